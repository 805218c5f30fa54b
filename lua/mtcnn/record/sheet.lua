-- mtcnn.record.sheet: contact sheets of training samples, a grid of tiles with each sample's
-- face box (from its regression target) and landmarks drawn, for a quick look at what a net
-- will see.
--
--   local sheet = require "mtcnn.record.sheet"
--   sheet.make(file, {count = 64, label = "positive", seed = 3}):save("pos.png")
--   sheet.from_batch(batch, {count = 48}):save("batch.png")   -- a loader batch, augmented
--
-- Tiles are the samples enlarged by whole pixels (scale: default 96 / S rounded up), so the
-- pixels are the ones in the file. Colours: positives green, part faces yellow, negatives
-- red (no box), landmark faces cyan (points; the eyes in white so that a mirror is visible).
-- Captions: P / PT / N / L and the sample's index (a file) or row (a batch), "M" when mirrored.

local image = require "mtcnn.image"
local record = require "mtcnn.record"

local M = {}

local COLOURS = {[1] = {0, 220, 0}, [-1] = {255, 220, 0}, [0] = {255, 60, 60}, [-2] = {0, 220, 255}}
local SHORT = {[1] = "P", [-1] = "PT", [0] = "N", [-2] = "L"}

-- Draws the sample's box and landmarks on its tile (the sample enlarged k times).
local function draw(tile, size, k, label, target, landmarks)
  local colour = COLOURS[label] or {255, 255, 255}
  if label == 1 or label == -1 then
    -- the face box the target points at: crop corners + target * side, in sample pixels
    local x1, y1 = target[1] * size, target[2] * size
    local x2, y2 = size - 1 + target[3] * size, size - 1 + target[4] * size
    tile:draw_rect(x1 * k, y1 * k, (x2 + 1) * k - 1, (y2 + 1) * k - 1, {color = colour, thickness = 1})
  elseif label == -2 then
    local r = math.max(1, k // 4)
    for p = 1, 5 do
      -- normalised landmarks: u * size is the continuous position in the sample
      local x, y = landmarks[p] * size * k - 0.5, landmarks[5 + p] * size * k - 0.5
      tile:draw_point(x, y, {color = p <= 2 and {255, 255, 255} or colour, radius = r})
    end
  end
end

local function default_scale(size)
  return math.max(1, math.ceil(96 / size))
end

-- Which samples of the file: opts.indices, or count of them (from first on, or at random with
-- seed), of one label when opts.label is set.
local function pick(file, opts)
  if opts.indices then return opts.indices end
  local count = opts.count or 64
  local want = opts.label and (record.labels[opts.label] or opts.label)
  local pool
  if want ~= nil then
    local labels = assert(file:labels())
    pool = {}
    for i = 1, file.count do
      if labels[i] == want then pool[#pool + 1] = i end
    end
  end
  local n = pool and #pool or file.count
  local out = {}
  if opts.seed then
    local g = require("mtcnn.tensor").generator(opts.seed)
    local chosen = {}
    local take = math.min(count, n)
    while #out < take do
      local j = g:integer(1, n)
      if not chosen[j] then
        chosen[j] = true
        out[#out + 1] = pool and pool[j] or j
      end
    end
    table.sort(out)
  else
    local first = opts.first or 1
    for j = first, math.min(n, first + count - 1) do out[#out + 1] = pool and pool[j] or j end
  end
  return out
end

--- sheet.make(file, opts) -> image | nil, message. opts: indices, or count (64) / first (1) /
--- seed (random pick) / label ("positive", "part", "negative", "landmark"); cols, scale.
function M.make(file, opts)
  opts = opts or {}
  local size = file.size
  local k = opts.scale or default_scale(size)
  local tiles, captions = {}, {}
  for _, i in ipairs(pick(file, opts)) do
    local s, err = file:get(i)
    if not s then return nil, err end
    local tile = record.upscale(s.image, k)
    draw(tile, size, k, s.label, s.target, s.landmarks)
    tiles[#tiles + 1] = tile
    captions[#captions + 1] = (SHORT[s.label] or "?") .. " " .. i
  end
  if #tiles == 0 then return nil, file.path .. ": no samples to show" end
  return image.grid(tiles, {cols = opts.cols, labels = captions, pad = 4})
end

--- sheet.from_batch(batch, opts) -> image: the first opts.count (all) rows of a loader batch as
--- the net sees them (after mirroring and jitter). opts.mirrored: per-row flags for captions.
function M.from_batch(batch, opts)
  opts = opts or {}
  local n = math.min(opts.count or batch.labels:size(1), batch.labels:size(1))
  local size = batch.images:size(3)
  local k = opts.scale or default_scale(size)
  local boxes, lmks = batch.boxes:cpu(), batch.landmarks:cpu()
  local images, labels = batch.images:cpu(), batch.labels:cpu()
  local tiles, captions = {}, {}
  for r = 1, n do
    local label = math.tointeger(labels[r])
    local tile = record.upscale(image.from_tensor(images[r]), k)
    draw(tile, size, k, label, boxes[r]:to_table(), lmks[r]:to_table())
    tiles[r] = tile
    captions[r] = (SHORT[label] or "?") .. " " .. r .. (opts.mirrored and opts.mirrored[r] and " M" or "")
  end
  return image.grid(tiles, {cols = opts.cols, labels = captions, pad = 4})
end

return M

-- Synthetic training data for the trainer's specs (no ../shared needed): pictures of a
-- cluttered background with light squares as "faces", each with two dark eyes, a nose and
-- two mouth corners at fixed places, cut into PNet samples by mtcnn.sample and stored with
-- mtcnn.record like real data.
--
--   local F = require "train_fixtures"
--   local set = F.build(dir, {images = 40, seed = 1})
--   -- set.train (detection + landmark samples, merged and shuffled), set.val = {detection, landmark}
--   local onet = F.build(dir2, {images = 6, net = "onet"})   -- 48x48, set.train a merge folder

local mtcnn = require "mtcnn"

local image, sample, record = mtcnn.image, mtcnn.sample, mtcnn.record
local T = mtcnn.tensor

local F = {}

-- where the five points sit in a face square, as fractions of its side
local POINTS = {{0.3, 0.35}, {0.7, 0.35}, {0.5, 0.55}, {0.32, 0.75}, {0.68, 0.75}}

-- One picture (96 x 96) and its faces {box = {x1, y1, x2, y2}, points = planar 10}. Besides
-- grey clutter it holds decoys: squares of skin colour with a few dark dots placed at random,
-- so that telling a face needs its pattern, not its colour.
function F.picture(g)
  local W, H = 96, 96
  local function grey(lo, hi) local v = g:integer(lo, hi) return {v, v, v} end
  local function skin() return {g:integer(200, 250), g:integer(170, 215), g:integer(140, 185)} end
  local img = image.new(W, H, grey(20, 90))
  for _ = 1, g:integer(3, 8) do -- clutter
    local x, y = g:integer(0, W - 8), g:integer(0, H - 8)
    img:draw_rect(x, y, math.min(W - 1, x + g:integer(4, 30)), math.min(H - 1, y + g:integer(4, 30)),
      {color = grey(0, 150), fill = true})
  end
  local taken = {}
  local function free(x1, y1, s)
    for _, b in ipairs(taken) do
      if x1 <= b[3] and b[1] <= x1 + s - 1 and y1 <= b[4] and b[2] <= y1 + s - 1 then return false end
    end
    taken[#taken + 1] = {x1, y1, x1 + s - 1, y1 + s - 1}
    return true
  end
  local faces = {}
  for _ = 1, g:integer(1, 2) do
    local s = g:integer(40, 56)
    local x1, y1 = g:integer(0, W - s), g:integer(0, H - s)
    if free(x1, y1, s) then
      img:draw_rect(x1, y1, x1 + s - 1, y1 + s - 1, {color = skin(), fill = true})
      local pts = {}
      for k, p in ipairs(POINTS) do
        local px, py = x1 + p[1] * (s - 1), y1 + p[2] * (s - 1)
        img:draw_circle(px, py, s / 14, {color = {40, 20, 20}})
        pts[k], pts[5 + k] = px, py
      end
      faces[#faces + 1] = {box = {x1, y1, x1 + s - 1, y1 + s - 1}, points = pts}
    end
  end
  for _ = 1, g:integer(1, 2) do -- decoys
    local s = g:integer(30, 56)
    local x1, y1 = g:integer(0, W - s), g:integer(0, H - s)
    if free(x1, y1, s) then
      img:draw_rect(x1, y1, x1 + s - 1, y1 + s - 1, {color = skin(), fill = true})
      for _ = 1, g:integer(1, 3) do
        img:draw_circle(x1 + g:uniform(0.15, 0.85) * s, y1 + g:uniform(0.15, 0.85) * s, s / 14,
          {color = {40, 20, 20}})
      end
    end
  end
  return img, faces
end

local function write(path, results, size)
  local w = assert(record.writer(path, {size = size, replace = true}))
  for _, r in ipairs(results) do
    if r.count > 0 then assert(w:add_samples(r, "synthetic")) end
  end
  assert(w:close())
  return path
end

-- Samples of side size from n pictures: detection and landmark results.
local function cut(n, seed, size)
  local g = T.generator(seed)
  local det, lmk = {}, {}
  for i = 1, n do
    local img, faces = F.picture(g)
    local boxes = {}
    for k, f in ipairs(faces) do boxes[k] = f.box end
    det[#det + 1] = sample.detection(img, boxes, {size = size, seed = seed * 1000 + i, neg_count = 30})
    for k, f in ipairs(faces) do
      lmk[#lmk + 1] = sample.landmarks(img, f.box, f.points,
        {size = size, seed = seed * 1000 + 100 * k + i, lmk_min_face = 20})
    end
  end
  return det, lmk
end

--- F.build(dir, {images = 40, val_images = 12, seed = 1, net = "pnet"}) -> {train, val =
--- {detection, landmark}, counts}: record files in dir. PNet's training set is one merged
--- file, RNet's and ONet's a merge folder (one file per class, for stratified batches).
function F.build(dir, opts)
  opts = opts or {}
  local net = opts.net or "pnet"
  local size = record.SIZES[net]
  local det, lmk = cut(opts.images or 40, opts.seed or 1, size)
  write(dir .. "/det_train.rec", det, size)
  write(dir .. "/lmk_train.rec", lmk, size)
  local out = dir .. (net == "pnet" and "/train.rec" or "/train")
  local rep = assert(record.merge{net = net, inputs = {dir .. "/det_train.rec", dir .. "/lmk_train.rec"},
    output = out, seed = 1, progress = false})
  local counts = {positive = 0, part = 0, negative = 0, landmark = 0}
  for _, o in ipairs(rep.outputs) do
    for k, n in pairs(o.counts) do counts[k] = counts[k] + n end
  end
  local vdet, vlmk = cut(opts.val_images or 12, (opts.seed or 1) + 7919, size)
  return {
    train = out, counts = counts,
    val = {write(dir .. "/det_val.rec", vdet, size), write(dir .. "/lmk_val.rec", vlmk, size)},
  }
end

return F

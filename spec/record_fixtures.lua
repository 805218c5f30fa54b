-- Record files with known content for the record, merge and loader specs.
--
-- Sample i (1-based) of a fixture file has:
--   pixels: every pixel (i % 251, (i * 7) % 253, label code), except pixel (0, 0), which is
--           (255, 0, 0), and pixel (size - 1, 0), which is (0, 0, 255): a mirror is visible;
--   target: {i / 1e4, 0.01, -(i % 7) / 100, -0.02};
--   landmarks: x = {0.1, 0.2, 0.3, 0.4, 0.5} + i / 1e5, y = {0.6 .. 1.0} - i / 1e5 (planar);
--   box {i, i + 1, i + 20, i + 21}, iou i / 1e4, face i % 5 (0: none), source "img<i>.jpg".
-- The label of sample i comes from the pattern given to write().

local helper = require "helper"
local mtcnn = require "mtcnn"

local image, record = mtcnn.image, mtcnn.record

local F = {}

local CODE = {[1] = 10, [0] = 20, [-1] = 30, [-2] = 40}

function F.pixel(i, label)
  return {i % 251, (i * 7) % 253, CODE[label]}
end

function F.sample(i, size, label, tag)
  local img = image.new(size, size, F.pixel(i, label))
  img:set(0, 0, {255, 0, 0})
  img:set(size - 1, 0, {0, 0, 255})
  local lmk = {}
  for k = 1, 5 do
    lmk[k] = k / 10 + i / 1e5
    lmk[5 + k] = 0.5 + k / 10 - i / 1e5
  end
  return {
    image = img, label = label,
    target = {i / 1e4, 0.01, -(i % 7) / 100, -0.02},
    landmarks = lmk, box = {i, i + 1, i + 20, i + 21}, iou = i / 1e4, face = i % 5,
    source = (tag or "img") .. i .. ".jpg",
  }
end

-- Writes n samples (labels cycling through the list `labels`, default {1, 0, -1, -2}) to a new
-- file; opts: size (12), block (4), commit_every (0: only at the end), tag, first (1).
function F.write(path, n, labels, opts)
  opts = opts or {}
  labels = labels or {1, 0, -1, -2}
  os.remove(path)
  local w = assert(record.writer(path, {size = opts.size or 12, block = opts.block or 4}))
  local first = opts.first or 1
  for i = first, first + n - 1 do
    assert(w:add(F.sample(i, opts.size or 12, labels[(i - 1) % #labels + 1], opts.tag)))
    if opts.commit_every and opts.commit_every > 0 and i % opts.commit_every == 0 then
      assert(w:commit())
    end
  end
  assert(w:close())
  return path
end

-- Byte offset of sample i (1-based) in a file of side size with block samples per block.
function F.offset(i, size, block)
  local R = record.record_bytes(size)
  local b, k = (i - 1) // block, (i - 1) % block
  return 4096 + b * (block * R + 8) + k * R
end

-- Overwrites bytes of a file at offset (0-based).
function F.poke(path, offset, bytes)
  local f = assert(io.open(path, "r+b"))
  f:seek("set", offset)
  f:write(bytes)
  f:close()
end

F.peek = helper.read_file -- (path, offset, n)

function F.size_of(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

function F.truncate(path, n)
  helper.write_file(path, F.peek(path, 0, n))
end

-- The number that identifies a fixture sample from its pixels (sample index mod 251) and its
-- label code, read back from an image or a loader row.
function F.id_of(img)
  local r, _, b = img:get(1, 1)
  return r, b
end

return F

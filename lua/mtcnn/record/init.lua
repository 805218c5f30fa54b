-- mtcnn.record: record files, the training samples of one net input size (12, 24 or 48).
--
--   local record = require "mtcnn.record"
--   local w = assert(record.writer("pos_12.rec", {size = 12}))   -- appends; creates when missing
--   w:add_samples(sample.detection(img, faces, {size = 12}), "0--Parade/0_Parade_1.jpg")
--   w:add{image = img12, label = -2, landmarks = {...10 planar...}, source = "lfw/a.jpg"}
--   assert(w:commit())            -- durable and visible; w:close() commits and closes
--
--   local f = assert(record.open("pos_12.rec", {size = 12}))   -- nil, message on a bad file
--   print(f.count, f.size, f:info().counts.positive)
--   local s = assert(f:get(1))    -- {image, label, target, landmarks, box, iou, face, aug, source}
--
-- The file format and its commit protocol are described in runtime/data/mt_record.h and
-- docs/records.md. Reading maps the file; each block's checksum is checked the first
-- time it is read (f:verify() checks all). Merging sample files into a net's training set:
-- record.merge (mtcnn.record.merge); contact sheets: record.sheet (mtcnn.record.sheet); the
-- training batches: mtcnn.loader.

local core = require "mtcnn.core"

local C = core.record
local record = {}

--- Labels of the classes: {positive = 1, negative = 0, part = -1, landmark = -2}.
record.labels = C.labels
--- Class names in the order of the stratified RNet/ONet batches (64, 64, 192, 64 of 384).
record.CLASSES = {"positive", "part", "negative", "landmark"}
--- Sample side of each net.
record.SIZES = {pnet = 12, rnet = 24, onet = 48}

local NAMES = {}
for name, label in pairs(C.labels) do NAMES[label] = name end

--- record.class_name(label) -> "positive" | "negative" | "part" | "landmark" | nil
function record.class_name(label)
  return NAMES[label]
end

--- record.record_bytes(size) -> bytes of one record of that side
record.record_bytes = C.record_bytes

--- record.open(path [, {size = S}]) -> file | nil, message. With size, a file of another
--- sample side is an error.
function record.open(path, opts)
  local size = opts
  if type(opts) == "table" then size = opts.size end
  return C.open(path, size)
end

--- record.writer(path, {size = S, block = 256, replace = false, keep = nil}) -> writer | nil,
--- message. An existing file is appended to (its uncommitted tail cut off; size must match);
--- replace writes a fresh file under a temporary name that close() renames over path. keep = n
--- rolls an existing file back to its first n committed samples before appending (a resumed
--- job whose own record of progress lags behind the file's last commit): class counts and the
--- last block's checksum are recomputed and the rollback is committed; n above the committed
--- count is an error (nil, message). No reader may have the file open meanwhile.
function record.writer(path, opts)
  return C.writer(path, opts)
end

local file_methods = C.file_methods

--- f:samples([first [, last]]) -> iterator over (index, sample); raises on a damaged block.
function file_methods.samples(f, first, last)
  local i = (first or 1) - 1
  last = last or f.count
  return function()
    i = i + 1
    if i > last then return nil end
    return i, assert(f:get(i))
  end
end

--- f:counts() -> {positive, negative, part, landmark} from the header.
function file_methods.counts(f)
  return f:info().counts
end

--- record.merge_plan(files, opts) -> the C plan behind record.merge (mtcnn.record.merge).
record.merge_plan = C.merge_plan

--- record.upscale(img, k) -> img enlarged k times, pixels repeated.
record.upscale = C.upscale

--- record.merge(opts) -> report | nil, message: a net's training set from sample files
--- (see mtcnn.record.merge).
function record.merge(opts)
  return require("mtcnn.record.merge").run(opts)
end

--- record.sheet(file, opts) -> contact sheet image (see mtcnn.record.sheet).
function record.sheet(file, opts)
  return require("mtcnn.record.sheet").make(file, opts)
end

return record

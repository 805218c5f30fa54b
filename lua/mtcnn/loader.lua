-- mtcnn.loader: ready-to-train batches from record files, made ahead by background threads.
--
--   local loader = require "mtcnn.loader"
--   -- PNet: one merged file, batches of random composition
--   local ld = assert(loader.new{net = "pnet", files = "train_12.rec", seed = 1})
--   -- RNet / ONet: one file per class, 64 positives + 64 part + 192 negatives + 64 landmarks
--   local ld = assert(loader.new{net = "rnet", classes = "rnet_24"})   -- a merge folder, or
--   --   classes = {positive = "pos.rec", part = ..., negative = ..., landmark = ...}
--   for batch in ld:epoch() do                    -- the batches left in the current epoch
--     local out = net:forward(batch.images)       -- [N, 3, S, S], (x - 127.5) / 128
--     crit:forward(out, batch.target)             -- {label = [N], box = [N, 4], landmarks = [N, 10]}
--   end
--   ld:close()
--
-- Options: net ("pnet" | "rnet" | "onet": the sample side), size, batch (384), files (path or
-- list: one pool, random composition) or classes (stratified; counts = {positive = 64, part =
-- 64, negative = 192, landmark = 64} by default, i.e. 1/6, 1/6, 1/2, 1/6 of batch) or streams
-- ({{files = {...}, count = n}, ...}); seed (1), shuffle (true: a new permutation of each
-- stream per pass), workers (1 background thread; 0: the next batch is made ahead by the
-- kernel threads between their jobs, and finished in next()), slots (batch
-- buffers, workers + 2), start_step (1: the first batch; resume a run with the step it
-- stopped at), epoch_steps (a stream's pass with one stream, total samples / batch with
-- several), mirror (true = 0.5: probability of mirroring positives and landmark faces, with
-- their targets; false = off), mirror_part (false), jitter (false | true: the seed's ranges |
-- {brightness = 0.2, contrast = 0.5, saturation = 0.5, hue = 0.2}), device ("cpu" | "cuda").
--
-- A batch: {images, labels, boxes, landmarks, target = {label, box, landmarks}, step, epoch,
-- step_in_epoch} (1-based numbers). It lives until the next call of next(): its CPU tensors
-- are the loader's buffers and read as freed afterwards (clone what you keep). Batch k is the
-- same for a given seed whatever the number of workers. See runtime/data/mt_loader.h for the order
-- of samples and the augmentation.

local core = require "mtcnn.core"
local record = require "mtcnn.record"
local T = require "mtcnn.tensor"

local C = core.loader

local loader = {}

local Loader = {}
Loader.__index = Loader

--- loader.stratified_counts(batch) -> {positive, part, negative, landmark}: the seed's 1:1:3:1
--- split (384 -> 64, 64, 192, 64).
function loader.stratified_counts(batch)
  local sixth = math.ceil(batch / 6)
  return {positive = sixth, part = sixth, negative = batch - 3 * sixth, landmark = sixth}
end

local function as_list(v)
  if type(v) == "string" then return {v} end
  return v
end

local function open_all(paths, size, cls)
  local files = {}
  for i, path in ipairs(paths) do
    local f, err = record.open(path, {size = size})
    if not f then
      for _, g in ipairs(files) do g:close() end
      return nil, err
    end
    if cls and f:counts()[cls] ~= f.count then
      local c = f:counts()
      for _, g in ipairs(files) do g:close() end
      f:close()
      return nil, ("%s: given as the %s file but holds %d positive, %d part, %d negative and %d "
        .. "landmark samples"):format(path, cls, c.positive, c.part, c.negative, c.landmark)
    end
    files[i] = f
  end
  return files
end

local function close_streams(streams)
  for _, s in ipairs(streams) do
    for _, f in ipairs(s.files) do f:close() end
  end
end

local function mirror_p(v)
  if v == nil or v == true then return 0.5 end
  if v == false then return 0 end
  assert(type(v) == "number" and v >= 0 and v <= 1, "loader: mirror must be a boolean or a probability")
  return v
end

--- loader.new(opts) -> loader | nil, message (a missing or damaged file); misuse raises.
function loader.new(opts)
  assert(type(opts) == "table", "loader.new: options table expected")
  local size = opts.size or (opts.net and record.SIZES[opts.net])
  if not size then error("loader: give net (pnet, rnet, onet) or size", 2) end
  local batch = opts.batch or 384
  local specs = {} -- {paths, count, class}
  if opts.streams then
    for i, s in ipairs(opts.streams) do
      specs[i] = {paths = as_list(s.files), count = s.count, name = s.name}
    end
  elseif opts.files then
    specs[1] = {paths = as_list(opts.files), count = batch}
  elseif opts.classes then
    local classes = opts.classes
    if type(classes) == "string" then -- a folder written by record.merge
      local dir = classes
      classes = {}
      for _, cls in ipairs(record.CLASSES) do classes[cls] = dir .. "/" .. cls .. ".rec" end
    end
    local counts = opts.counts or loader.stratified_counts(batch)
    for _, cls in ipairs(record.CLASSES) do
      local n = counts[cls] or 0
      if n > 0 then
        if classes[cls] == nil then error("loader: classes." .. cls .. " is missing", 2) end
        specs[#specs + 1] = {paths = as_list(classes[cls]), count = n, class = cls, name = cls}
      end
    end
  else
    error("loader: give files (one pool), classes (stratified) or streams", 2)
  end
  local streams, names = {}, {}
  for i, spec in ipairs(specs) do
    if type(spec.count) ~= "number" or spec.count < 1 then
      error(("loader: stream %d needs a count >= 1"):format(i), 2)
    end
    local files, err = open_all(spec.paths, size, spec.class)
    if not files then
      close_streams(streams)
      return nil, err
    end
    local total = 0
    for _, f in ipairs(files) do total = total + f.count end
    if total < spec.count then
      for _, f in ipairs(files) do f:close() end
      close_streams(streams)
      return nil, ("loader: %s (%s) holds %d samples, fewer than the %d each batch takes from it")
        :format(spec.name or "the pool", table.concat(spec.paths, ", "), total, spec.count)
    end
    streams[i] = {files = files, count = math.tointeger(spec.count)}
    names[i] = spec.name or ("stream " .. i)
  end
  local jitter = opts.jitter
  if jitter ~= nil and jitter ~= false and jitter ~= true and type(jitter) ~= "table" then
    error("loader: jitter must be a boolean or a table of ranges", 2)
  end
  local device = opts.device or "cpu"
  if device ~= "cpu" and device ~= "cuda" then error("loader: device must be cpu or cuda", 2) end
  if device == "cuda" and not require("mtcnn.cuda").available() then
    close_streams(streams)
    return nil, "loader: device cuda: " .. tostring(select(2, require("mtcnn.cuda").device_info()))
  end
  local start = opts.start_step or 1
  local ok, c = pcall(C.new, {
    size = size, streams = streams, seed = opts.seed or 1, shuffle = opts.shuffle ~= false,
    workers = opts.workers or 1, slots = opts.slots, start_batch = start - 1,
    epoch_batches = opts.epoch_steps, mirror = mirror_p(opts.mirror),
    mirror_part = opts.mirror_part or false, jitter = jitter or false,
  })
  local paths = {}
  for i, s in ipairs(streams) do
    paths[i] = {}
    for k, f in ipairs(s.files) do paths[i][k] = f.path end
  end
  close_streams(streams) -- the C loader holds its own references
  if not ok then error(c, 2) end
  return setmetatable({
    c = c, size = size, batch_size = c:rows(), steps_per_epoch = c:epoch_batches(),
    device = device, stream_names = names, stream_paths = paths, position = start,
  }, Loader)
end

--- ld:next() -> batch | nil, message (a damaged file: the batch is skipped).
function Loader:next()
  local b, err = self.c:next()
  if not b then
    self.position = self.position + 1
    return nil, err
  end
  if self.device == "cuda" then
    local g = self.gpu
    if not g then
      g = {}
      for _, k in ipairs({"images", "labels", "boxes", "landmarks"}) do
        local shape = b[k]:size()
        shape.device = "cuda"
        g[k] = T.empty(shape)
      end
      self.gpu = g
    end
    for _, k in ipairs({"images", "labels", "boxes", "landmarks"}) do b[k] = g[k]:copy_(b[k]) end
  end
  b.target = {label = b.labels, box = b.boxes, landmarks = b.landmarks}
  b.step = b.number + 1
  b.epoch = b.epoch + 1
  b.step_in_epoch = b.number % self.steps_per_epoch + 1
  b.number = nil
  self.position = b.step + 1
  return b
end

--- for batch in ld:epoch() do ... end: the batches left in the current epoch; raises on a
--- damaged file.
function Loader:epoch()
  local last = ((self.position - 1) // self.steps_per_epoch + 1) * self.steps_per_epoch
  return function()
    if self.position > last then return nil end
    return assert(self:next())
  end
end

--- ld:provenance() -> per row of the current batch {stream, name, path, index, mirrored}.
function Loader:provenance()
  local p = self.c:provenance()
  if not p then return nil end
  local rows = {}
  for r = 1, #p.index do
    local s = p.stream[r]
    rows[r] = {stream = s, name = self.stream_names[s], path = self.stream_paths[s][p.file[r]],
               index = p.index[r], mirrored = p.mirrored[r]}
  end
  return rows
end

--- ld:wait_stats() -> {taken, waited, wait_seconds}: batches handed out, how many of them
--- next() had to wait for because they were not ready yet, and the time it waited.
function Loader:wait_stats()
  return self.c:wait_stats()
end

--- ld:stream_samples(s) -> samples in stream s
function Loader:stream_samples(s)
  return self.c:stream_samples(s)
end

--- ld:close(): stops the workers and frees the buffers (the last batch with them).
function Loader:close()
  self.c:close()
  if self.gpu then
    for _, t in pairs(self.gpu) do t:free() end
    self.gpu = nil
  end
end

Loader.__close = Loader.close

function Loader:__tostring()
  return ("mtcnn.Loader(%dx%d, batch %d, %d steps per epoch, next step %d)"):format(
    self.size, self.size, self.batch_size, self.steps_per_epoch, self.position)
end

return loader

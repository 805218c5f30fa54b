-- Benchmark mode "loader": batches per second of the training data loader (mtcnn.loader) at
-- batch 384 with augmentation on (mirror, and colour jitter unless --no-jitter), on record
-- files of synthetic samples written to a scratch folder (or the files of --data).
--
--   mtcnn scripts/bench.lua loader [--net pnet|rnet|onet|all] [--workers N] [--batches N]
--                                  [--train] [--json]
--
-- PNet reads one file (random composition); RNet and ONet four class files (64 + 64 + 192 +
-- 64). With --train the same run also times the MTCNN training step of the net on a fixed
-- batch (as bench.lua train does), reports the ratio loader batches/s : training steps/s, and
-- then trains for --fed steps on the loader's batches, reporting the step time, the median
-- time of a next() call, and how many steps found their batch not ready and the mean time
-- per step spent waiting for one.

local mtcnn = require "mtcnn"
local bench = require "mtcnn.bench"

local T, sys, record, loader, image = mtcnn.tensor, mtcnn.sys, mtcnn.record, mtcnn.loader, mtcnn.image

local DEFAULT_BATCHES = {pnet = 200, rnet = 100, onet = 40}

local M = {}

M.options = {
  bench.option.net("which net's samples"),
  {name = "batch", kind = "int", default = 384, help = "samples per batch"},
  {name = "workers", kind = "int", default = 1, help = "loader threads"},
  {name = "batches", kind = "int", default = 0, help = "timed batches (0: 200 / 100 / 40 per net)"},
  {name = "samples", kind = "int", default = 0,
   help = "synthetic samples per net (0: 24000, ONet 12000)"},
  {name = "no-jitter", kind = "flag", help = "mirror only"},
  {name = "data", kind = "string", metavar = "DIR",
   help = "use DIR/<net>.rec (PNet) or DIR/<net>/<class>.rec instead of synthetic files"},
  {name = "train", kind = "flag", help = "also time the training step and a loader-fed run"},
  {name = "fed", kind = "int", default = 10, help = "with --train: loader-fed training steps"},
  bench.option.threads,
}

-- A pool of random sample images, reused in turn (pixel values do not change the loader's work).
local function image_pool(size, n, g)
  local pool = {}
  for i = 1, n do
    pool[i] = image.from_tensor(T.rand(3, size, size, g) * 2 - 1)
  end
  return pool
end

local function write_file(path, size, n, labels, pool, g)
  local w = assert(record.writer(path, {size = size, replace = true}))
  for i = 1, n do
    local label = labels[(i - 1) % #labels + 1]
    local lmk = {}
    for k = 1, 10 do lmk[k] = g:uniform(0.2, 0.8) end
    assert(w:add{image = pool[(i - 1) % #pool + 1], label = label,
                 target = {g:uniform(-0.2, 0.2), g:uniform(-0.2, 0.2), g:uniform(-0.2, 0.2),
                           g:uniform(-0.2, 0.2)},
                 landmarks = label == -2 and lmk or nil, source = "synthetic"})
  end
  assert(w:close())
end

-- Synthetic record files of a net in dir; returns the loader's file options.
local function synthetic(arch, dir, total)
  local size = record.SIZES[arch]
  local g = T.generator(7)
  local pool = image_pool(size, 64, g)
  if arch == "pnet" then
    local path = dir .. "/pnet.rec"
    write_file(path, size, total, {1, -1, 0, 0, 0, -2}, pool, g)
    return {files = path}
  end
  local classes = {}
  local shares = {positive = 1, part = 1, negative = 3, landmark = 1}
  for cls, share in pairs(shares) do
    local path = ("%s/%s_%s.rec"):format(dir, arch, cls)
    write_file(path, size, total * share // 6, {record.labels[cls]}, pool, g)
    classes[cls] = path
  end
  return {classes = classes}
end

local function data_files(arch, dir)
  if arch == "pnet" then return {files = dir .. "/pnet.rec"} end
  return {classes = dir .. "/" .. arch}
end

-- The MTCNN training step of the net on a loader batch (as bench.lua train --preset mtcnn).
local function train_step(arch)
  local _, step = require("mtcnn.bench.train").trainer(arch, "mtcnn")
  return function(b) step(b.images, b.target) end
end

function M.run(args, report)
  local nets = bench.setup(args)
  local scratch = args.data == nil and os.tmpname() or nil
  if scratch then
    os.remove(scratch)
    assert(sys.mkdir(scratch))
  end
  local ok, err = pcall(function()
    for _, arch in ipairs(nets) do
      local files
      if scratch then
        local total = args.samples > 0 and args.samples or (arch == "onet" and 12000 or 24000)
        files = synthetic(arch, scratch, total)
      else
        files = data_files(arch, args.data)
      end
      local opts = {net = arch, batch = args.batch, workers = args.workers, seed = 1,
                    mirror = true, jitter = not args.no_jitter}
      for k, v in pairs(files) do opts[k] = v end
      local ld = assert(loader.new(opts))
      for _ = 1, 3 do assert(ld:next()) end -- warm: threads running, pages mapped
      local n = args.batches > 0 and args.batches or DEFAULT_BATCHES[arch]
      local t0 = sys.clock()
      for _ = 1, n do assert(ld:next()) end
      local elapsed = sys.clock() - t0
      local row = {
        bench = "loader", net = arch, batch = ld.batch_size, workers = args.workers,
        mirror = true, jitter = not args.no_jitter, batches = n,
        batches_per_s = n / elapsed, samples_per_s = n * ld.batch_size / elapsed,
        batch_ms = elapsed / n * 1e3, kernel_threads = sys.threads(),
      }
      if args.train then
        local step = train_step(arch)
        -- a fixed batch, cloned out of the loader's buffers
        local b = assert(ld:next())
        local fixed = {images = b.images:clone()}
        fixed.target = {label = b.labels:clone(), box = b.boxes:clone(), landmarks = b.landmarks:clone()}
        local r = bench.time(function() step(fixed) end, {warmup = 2, reps = args.reps})
        row.train_step_ms = r.median * 1e3
        row.train_steps_per_s = 1 / r.median
        row.ratio = row.batches_per_s / row.train_steps_per_s
        -- training on the loader's batches: time per step and time waiting for batches
        local calls, t1 = {}, sys.clock()
        local before = ld:wait_stats()
        for k = 1, args.fed do
          local w0 = sys.clock()
          local fb = assert(ld:next())
          calls[k] = sys.clock() - w0
          step(fb)
        end
        local total = sys.clock() - t1
        local after = ld:wait_stats()
        row.fed_steps = args.fed
        row.fed_step_ms = total / args.fed * 1e3
        -- next() as a whole (Lua tables, a collection when tensor memory grew) and the part
        -- of it spent waiting for a batch that was not ready
        row.fed_next_ms = bench.median(calls) * 1e3
        row.fed_waits = after.waited - before.waited
        row.fed_wait_ms = (after.wait_seconds - before.wait_seconds) / args.fed * 1e3
      end
      ld:close()
      report(row)
    end
  end)
  if scratch then os.execute("rm -rf '" .. scratch .. "'") end
  if not ok then error(err, 0) end
end

return M

-- mtcnn.bench: timing helpers shared by the benchmark modes of scripts/bench.lua.
--
--   bench.time(fn, {warmup = 3, reps = 20, sync = f}) -> {median, min, max, mean, samples}
-- Times fn() reps times after warmup calls, in seconds, with the monotonic
-- clock; sync (e.g. cuda.synchronize) runs before each clock read so that
-- queued GPU work is counted.
--   bench.option.net(help), bench.option.threads, bench.option.kernels
-- Options several modes share, for their M.options lists.
--   bench.setup(args) -> nets
-- Applies --threads and --kernels (when the mode has them); returns the nets --net names.
--   bench.devices(arg, mode) -> {"cpu"} | {"cuda"} | {"cpu", "cuda"}
-- The devices of --device arg: all is the CPU, and the GPU when one is present; cuda without
-- one is an error naming the reason.

local sys = require "mtcnn.sys"

local bench = {}

function bench.median(xs)
  local s = {table.unpack(xs)}
  table.sort(s)
  local n = #s
  if n == 0 then return 0 / 0 end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

function bench.time(fn, opts)
  opts = opts or {}
  local warmup, reps, sync = opts.warmup or 3, opts.reps or 20, opts.sync or function() end
  for _ = 1, warmup do fn() end
  sync()
  local samples = {}
  for r = 1, reps do
    local t0 = sys.clock()
    fn()
    sync()
    samples[r] = sys.clock() - t0
  end
  local lo, hi, sum = math.huge, 0, 0
  for _, s in ipairs(samples) do
    lo, hi, sum = math.min(lo, s), math.max(hi, s), sum + s
  end
  return {median = bench.median(samples), min = lo, max = hi, mean = sum / reps, samples = samples}
end

bench.option = {
  threads = {name = "threads", kind = "int", default = 0,
             help = "kernel threads (0: keep the current count)"},
  kernels = {name = "kernels", kind = "string", default = "",
             help = "CPU kernel set (default: auto)"},
}

function bench.option.net(help)
  return {name = "net", kind = "string", choices = {"pnet", "rnet", "onet", "all"}, default = "all",
          help = help}
end

function bench.devices(arg, mode)
  local cuda = require("mtcnn").cuda
  if arg == "cuda" then
    if not cuda.available() then
      error(("bench %s: --device cuda but %s"):format(mode, tostring(select(2, cuda.device_info()))))
    end
    return {"cuda"}
  end
  if arg == "all" and cuda.available() then return {"cpu", "cuda"} end
  return {"cpu"}
end

function bench.setup(args)
  if args.threads and args.threads > 0 then sys.set_threads(args.threads) end
  if args.kernels and args.kernels ~= "" then require("mtcnn.nn").set_kernels(args.kernels) end
  if args.net == "all" then return {"pnet", "rnet", "onet"} end
  return {args.net}
end

return bench

-- Benchmark mode "tensor": memory-bound elementwise ops and reductions on
-- each device, in GB/s of tensor data moved (reads + writes).

local mtcnn = require "mtcnn"
local bench = require "mtcnn.bench"

local T = mtcnn.tensor

local M = {}

M.options = {
  {name = "numel", kind = "int", default = 1 << 24, help = "elements per tensor"},
}

-- op name, function(a, b, out), bytes moved per element
local ops = {
  {"add", function(a, b, out) out:copy_(a):add_(b) end, 4 * 4},
  {"add_", function(a, b) a:add_(b) end, 3 * 4},
  {"mul_scalar_", function(a) a:mul_(1.0001) end, 2 * 4},
  {"copy_strided", function(a, _, out) out:copy_(a:view(-1, 64):t()) end, 2 * 4},
  {"sum", function(a) return a:sum() end, 1 * 4},
  {"max", function(a) return a:max() end, 1 * 4},
  {"sum_dim", function(a) return a:view(-1, 64):sum(2) end, 1 * 4},
}

function M.run(args, report)
  local devices = {}
  if args.device == "cpu" or args.device == "all" then devices[#devices + 1] = "cpu" end
  if args.device == "cuda" or args.device == "all" then
    if mtcnn.cuda.available() then
      devices[#devices + 1] = "cuda"
    elseif args.device == "cuda" then
      error("bench tensor: --device cuda but " .. tostring(select(2, mtcnn.cuda.device_info())))
    end
  end
  local n = args.numel - args.numel % 64
  for _, dev in ipairs(devices) do
    local sync = dev == "cuda" and mtcnn.cuda.synchronize or nil
    T.manual_seed(1)
    local a = T.rand(n):to(dev)
    local b = T.rand(n):to(dev)
    local out = T.empty{n, device = dev}
    local outt = T.empty{64, n // 64, device = dev}
    for _, op in ipairs(ops) do
      local name, fn, bytes = op[1], op[2], op[3]
      local dst = name == "copy_strided" and outt or out
      local r = bench.time(function() fn(a, b, dst) end, {warmup = 2, reps = args.reps, sync = sync})
      report{
        bench = "tensor", op = name, device = dev, numel = n,
        ms_median = r.median * 1e3, ms_min = r.min * 1e3,
        gb_per_s = bytes * n / r.median / 1e9,
      }
    end
  end
end

return M

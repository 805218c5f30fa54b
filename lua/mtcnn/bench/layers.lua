-- Benchmark mode "layers": GFLOP/s of the convolution and fully connected layers of the
-- three nets at the shapes that matter, each pass on its own (forward with bias, input
-- gradient, parameter gradients), best of --reps runs (the machine is shared: the minimum is
-- the least disturbed figure; the median is reported too).
--
--   mtcnn scripts/bench.lua layers [--threads N] [--set train|detect|all] [--json]
--
-- train: batch 384 at the training sizes (12, 24, 48). detect: the detector's shapes, with
-- the fused bias + PReLU (+ max pooling where the net pools) forward: PNet on the first
-- pyramid level of a 640x480 image at minimum face 20 (1x3x288x384), RNet on 350 crops, ONet
-- on 45 crops. GFLOP/s count the convolution's FLOPs only.

local mtcnn = require "mtcnn"
local bench = require "mtcnn.bench"
local core = require "mtcnn.core"

local T, nn, sys = mtcnn.tensor, mtcnn.nn, mtcnn.sys
local C = core.nn

local M = {}

M.options = {
  bench.option.threads,
  {name = "set", kind = "string", choices = {"train", "detect", "all"}, default = "all",
   help = "which shapes"},
  bench.option.kernels,
  {name = "only", kind = "string", default = "", help = "only layers whose name contains this"},
}

-- {net, layer, kind, batch, cin, h, w, cout, k} (kind conv or fc: for fc, cin*h*w inputs)
local TRAIN = {
  {"pnet", "conv1", "conv", 384, 3, 12, 12, 10, 3},
  {"pnet", "conv2", "conv", 384, 10, 5, 5, 16, 3},
  {"pnet", "conv3", "conv", 384, 16, 3, 3, 32, 3},
  {"rnet", "conv1", "conv", 384, 3, 24, 24, 28, 3},
  {"rnet", "conv2", "conv", 384, 28, 11, 11, 48, 3},
  {"rnet", "conv3", "conv", 384, 48, 4, 4, 64, 2},
  {"rnet", "fc1", "fc", 384, 64, 3, 3, 128},
  {"onet", "conv1", "conv", 384, 3, 48, 48, 32, 3},
  {"onet", "conv2", "conv", 384, 32, 23, 23, 64, 3},
  {"onet", "conv3", "conv", 384, 64, 10, 10, 64, 3},
  {"onet", "conv4", "conv", 384, 64, 4, 4, 128, 2},
  {"onet", "fc1", "fc", 384, 128, 3, 3, 256},
}

-- detect rows may end with {pool kernel, pool stride}: the pooled layers run as the fused
-- conv + PReLU + max pooling pass the detector uses
local DETECT = {
  {"pnet", "conv1", "conv", 1, 3, 288, 384, 10, 3, {2, 2}},
  {"pnet", "conv2", "conv", 1, 10, 143, 191, 16, 3},
  {"pnet", "conv3", "conv", 1, 16, 141, 189, 32, 3},
  {"rnet", "conv1", "conv", 350, 3, 24, 24, 28, 3, {3, 2}},
  {"rnet", "conv2", "conv", 350, 28, 11, 11, 48, 3, {3, 2}},
  {"rnet", "conv3", "conv", 350, 48, 4, 4, 64, 2},
  {"rnet", "fc1", "fc", 350, 64, 3, 3, 128},
  {"onet", "conv1", "conv", 45, 3, 48, 48, 32, 3, {3, 2}},
  {"onet", "conv2", "conv", 45, 32, 23, 23, 64, 3, {3, 2}},
  {"onet", "conv3", "conv", 45, 64, 10, 10, 64, 3, {2, 2}},
  {"onet", "conv4", "conv", 45, 64, 4, 4, 128, 2},
  {"onet", "fc1", "fc", 45, 128, 3, 3, 256},
}

local function measure(fn, reps)
  local r = bench.time(fn, {warmup = 2, reps = reps})
  return r.min, r.median
end

local function run_case(c, set, reps, report)
  local net, layer, kind, n, cin, h, w, cout, k, pool = table.unpack(c)
  local g = T.generator(1)
  local x = T.randn(n, cin, h, w, g)
  local y, dx = T.empty(0), T.empty(0)
  local passes
  if kind == "conv" then
    local wt = T.randn(cout, cin, k, k, g) * 0.1
    local b, a = T.zeros(cout), T.full(cout, 0.25)
    local dw, db = T.zeros(cout, cin, k, k), T.zeros(cout)
    local oh, ow = h - k + 1, w - k + 1
    local flops = 2 * n * cout * oh * ow * cin * k * k
    local dy = T.randn(n, cout, oh, ow, g)
    if set == "detect" and pool then
      local pk, ps = pool[1], pool[2]
      passes = {{"forward+prelu+pool", flops, function()
        C.conv2d_forward(x, wt, b, y, 1, 1, 0, 0, a, pk, pk, ps, ps)
      end}}
    elseif set == "detect" then
      passes = {{"forward+prelu", flops, function() C.conv2d_forward(x, wt, b, y, 1, 1, 0, 0, a) end}}
    else
      passes = {
        {"forward", flops, function() C.conv2d_forward(x, wt, b, y, 1, 1, 0, 0) end},
        {"grad_input", flops, function() C.conv2d_backward_input(dy, wt, dx, x, 1, 1, 0, 0) end},
        {"grad_params", flops, function() C.conv2d_backward_params(x, dy, dw, db, 1, 1, 0, 0) end},
      }
      if layer == "conv1" then table.remove(passes, 2) end -- a net's first layer needs no dX
    end
  else
    local nin = cin * h * w
    local wt = T.randn(cout, nin, g) * 0.05
    local b, a = T.zeros(cout), T.full(cout, 0.25)
    local dw, db = T.zeros(cout, nin), T.zeros(cout)
    local flops = 2 * n * nin * cout
    local dy = T.randn(n, cout, g)
    if set == "detect" then
      passes = {{"forward+prelu", flops, function() C.linear_forward(x, wt, b, y, a) end}}
    else
      passes = {
        {"forward", flops, function() C.linear_forward(x, wt, b, y) end},
        {"grad_input", flops, function() C.linear_backward_input(dy, wt, dx, x) end},
        {"grad_params", flops, function() C.linear_backward_params(x, dy, dw, db) end},
      }
    end
  end
  for _, p in ipairs(passes) do
    local best, median = measure(p[3], reps)
    report{
      bench = "layers", set = set, net = net, layer = layer, pass = p[1],
      shape = ("%dx%dx%dx%d->%d"):format(n, cin, h, w, cout), threads = sys.threads(),
      kernels = nn.kernels(), mflop = p[2] / 1e6, ms_min = best * 1e3, ms_median = median * 1e3,
      gflops = p[2] / best / 1e9,
    }
  end
end

function M.run(args, report)
  bench.setup(args)
  for _, set in ipairs(args.set == "all" and {"train", "detect"} or {args.set}) do
    for _, c in ipairs(set == "train" and TRAIN or DETECT) do
      local name = c[1] .. "." .. c[2]
      if args.only == "" or name:find(args.only, 1, true) then run_case(c, set, args.reps, report) end
    end
  end
end

return M

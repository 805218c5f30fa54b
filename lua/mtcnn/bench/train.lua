-- Benchmark mode "train": samples per second of a full training step (forward, multi-task
-- loss, backward, SGD update) at batch 384, median over repeated steps after warm-up (and
-- the mean, which counts the steps another process slowed as a whole training run does).
--
--   mtcnn scripts/bench.lua train [--net pnet|rnet|onet|all] [--threads N] [--json]
--                                 [--preset mtcnn|torch] [--kernels auto|avx512|...]
--                                 [--device cpu|cuda|all]
--
-- --device cuda runs the step on the GPU: the net and its optimiser moved there (net:to,
-- opt:to), the batch uploaded once (as train_bench.py --device cuda does), and the clock read
-- after cuda.synchronize; the loss's scalars come back to the host every step. --device all
-- (the default) runs the CPU, and the GPU when one is present.
--
-- --preset mtcnn (default): the full MTCNN configuration (landmark heads on all nets, ONet
-- dropout 0.25, OHEM 70%, label masks, L2 5e-4 on conv kernels, SGD lr 1e-3 momentum 0.9,
-- batches of 64 positives, 64 part faces, 192 negatives and 64 landmark faces per 384).
-- --preset torch: exactly ../shared/anchors/train_bench.py (PNet and RNet without landmark
-- heads, ONet with them and dropout 0.25; plain softmax cross-entropy plus 0.5 MSE box
-- (+ landmarks, 0.5 or ONet 1.0) over every sample, no OHEM or masks; weight decay 5e-4 on
-- every parameter; SGD lr 0.01 momentum 0.9; random 0/1 labels).

local mtcnn = require "mtcnn"
local bench = require "mtcnn.bench"

local T, nn, models, optim, sys = mtcnn.tensor, mtcnn.nn, mtcnn.models, mtcnn.optim, mtcnn.sys

local M = {}

M.options = {
  bench.option.net("which net to train"),
  bench.option.threads,
  {name = "batch", kind = "int", default = 384, help = "samples per step"},
  {name = "warmup", kind = "int", default = 3, help = "untimed steps first"},
  {name = "preset", kind = "string", choices = {"mtcnn", "torch"}, default = "mtcnn",
   help = "training configuration (see the file header)"},
  bench.option.kernels,
}

-- Labels for the MTCNN preset: 1/6 positives, 1/6 part faces, 1/2 negatives, 1/6 landmark
-- faces, in the order of the stratified RNet/ONet batches.
local function mtcnn_labels(n)
  local label = T.zeros(n)
  local pos, part, lmk = math.ceil(n / 6), math.ceil(n / 6), math.ceil(n / 6)
  local neg = n - pos - part - lmk
  local i = 0
  for _, spec in ipairs({{1, pos}, {-1, part}, {0, neg}, {-2, lmk}}) do
    for _ = 1, spec[2] do
      i = i + 1
      label[i] = spec[1]
    end
  end
  return label
end

--- The net of arch in training mode and its training step under preset ("mtcnn" or
--- "torch") on device ("cpu" by default): net, step(x, target). Also used by bench.lua
--- loader --train.
function M.trainer(arch, preset, device)
  local net, crit, opt
  if preset == "torch" then
    net = models[arch]{landmarks = arch == "onet", seed = 1}
    crit = nn.MTCNNLoss{cls = 1, box = 0.5, landmarks = arch == "onet" and 1 or 0.5, ohem = 1,
                        masked = false, reduction = "element", weight_decay = 0}
    local params, grads = net:parameters()
    opt = optim.SGD(params, grads, {lr = 0.01, momentum = 0.9, weight_decay = 5e-4})
  else
    net = models[arch]{seed = 1}
    crit = nn.MTCNNLoss{net = arch}
    local params, grads = net:parameters()
    opt = optim.SGD(params, grads, {lr = 1e-3, momentum = 0.9})
  end
  net:training()
  if device and device ~= "cpu" then
    net:to(device)
    opt:to(device)
  end
  return net, optim.train_step(net, crit, opt)
end

local function setup(arch, preset, batch, device)
  local g = T.generator(2016)
  local size = models.input_size[arch]
  local net, train_step = M.trainer(arch, preset, device)
  local x = T.rand(batch, 3, size, size, g) * 2 - 1
  local label
  if preset == "torch" then
    label = T.zeros(batch)
    local v = label:view(batch)
    for i = 1, batch do v[i] = g:integer(0, 1) end
  else
    label = mtcnn_labels(batch)
  end
  local target = {label = label, box = T.randn(batch, 4, g) * 0.1, landmarks = T.rand(batch, 10, g)}
  if device and device ~= "cpu" then
    x = x:to(device)
    for k, v in pairs(target) do target[k] = v:to(device) end
  end
  return function() train_step(x, target) end, net
end

function M.run(args, report)
  local nets = bench.setup(args)
  for _, device in ipairs(bench.devices(args.device, "train")) do
    local sync = device == "cuda" and mtcnn.cuda.synchronize or nil
    local gpu = device == "cuda" and mtcnn.cuda.device_info().name or nil
    for _, arch in ipairs(nets) do
      local step, net = setup(arch, args.preset, args.batch, device)
      local r = bench.time(step, {warmup = args.warmup, reps = args.reps, sync = sync})
      report{
        bench = "train", net = arch, device = device, gpu = gpu, threads = sys.threads(),
        batch = args.batch, preset = args.preset,
        kernels = device == "cpu" and nn.kernels() or "cudnn", params = net:num_parameters(),
        step_ms = r.median * 1e3, step_ms_min = r.min * 1e3, step_ms_mean = r.mean * 1e3,
        samples_per_s = args.batch / r.median, samples_per_s_mean = args.batch / r.mean,
      }
    end
  end
end

return M

-- Benchmark mode "nets": evaluate-mode forward passes of the three nets at the shapes the
-- detector runs (ms, best of --reps, and GFLOP/s): PNet over the image pyramid of a 640x480
-- picture at minimum face 20 (factor 0.709: 10 levels from 288x384 down to 14x18, batch 1),
-- RNet on 350 24x24 crops, ONet on 45 48x48 crops (the cascade of anchors.md's timing image).
-- Each net runs twice: "plan" (nn.plan: driven from C, one part of the batch or one pyramid
-- level per thread, as the detector runs it) and "modules" (net:forward, layer by layer).
--
--   mtcnn scripts/bench.lua nets [--threads N] [--json]

local mtcnn = require "mtcnn"
local bench = require "mtcnn.bench"

local T, nn, models, sys = mtcnn.tensor, mtcnn.nn, mtcnn.models, mtcnn.sys

local M = {}

M.options = {
  bench.option.threads,
  bench.option.kernels,
}

-- The pyramid of an h x w image: ceil(h s) x ceil(w s) for s = 12/minface * factor^k while
-- min(h, w) s >= 12 (docs/design.md, 'Stage 1: PNet over the pyramid').
local function pyramid(h, w, minface, factor)
  local levels, s = {}, 12 / minface
  while math.min(h, w) * s >= 12 do
    levels[#levels + 1] = {math.ceil(h * s), math.ceil(w * s)}
    s = s * factor
  end
  return levels
end

-- Multiply-adds x 2 of the convolutions and fully connected layers of a net on one input.
local function flops_of(net, x)
  local total = 0
  local shape = x:size()
  local function conv(m, s)
    local oh, ow = s[3] - m.kh + 1, s[4] - m.kw + 1
    total = total + 2 * s[1] * m.out_channels * oh * ow * m.in_channels * m.kh * m.kw
    return {s[1], m.out_channels, oh, ow}
  end
  local function walk(mods, s)
    for _, m in ipairs(mods) do
      if m.in_channels then
        s = conv(m, s)
      elseif m.in_features then
        total = total + 2 * s[1] * m.in_features * m.out_features
        s = {s[1], m.out_features}
      elseif m.kh and m.sh then
        s = {s[1], s[2], nn.pool_out_size(s[3], m.kh, m.sh), nn.pool_out_size(s[4], m.kw, m.sw)}
      elseif m.heads then
        for _, h in ipairs(m.heads) do
          walk(h.module.modules or {h.module}, s)
        end
      end
    end
  end
  walk(net.modules, shape)
  return total
end

function M.run(args, report)
  bench.setup(args)
  local g = T.generator(1)
  local function row(name, how, shape, flops, r)
    report{
      bench = "nets", net = name, run = how, shape = shape, threads = sys.threads(),
      kernels = nn.kernels(),
      ms_min = r.min * 1e3, ms_median = r.median * 1e3, mflop = flops / 1e6,
      gflops = flops / r.min / 1e9,
    }
  end
  local pnet = models.pnet{landmarks = false, seed = 1}:evaluate()
  local inputs, pflops = {}, 0
  for i, l in ipairs(pyramid(480, 640, 20, 0.709)) do
    inputs[i] = T.rand(1, 3, l[1], l[2], g) * 2 - 1
    pflops = pflops + flops_of(pnet, inputs[i])
  end
  local pshape = ("%d levels, 288x384 .. %dx%d"):format(#inputs, inputs[#inputs]:size(3),
    inputs[#inputs]:size(4))
  local plan = nn.plan(pnet)
  row("pnet", "plan", pshape, pflops, bench.time(function() plan:forward_many(inputs) end,
    {warmup = 2, reps = args.reps}))
  row("pnet", "modules", pshape, pflops, bench.time(function()
    for _, x in ipairs(inputs) do pnet:forward(x) end
  end, {warmup = 2, reps = args.reps}))
  for _, c in ipairs({{"rnet", 350, 24}, {"onet", 45, 48}}) do
    local net = models[c[1]]{landmarks = c[1] == "onet", seed = 1}:evaluate()
    local x = T.rand(c[2], 3, c[3], c[3], g) * 2 - 1
    local fl = flops_of(net, x)
    local shape = ("%dx3x%dx%d"):format(c[2], c[3], c[3])
    plan = nn.plan(net)
    row(c[1], "plan", shape, fl, bench.time(function() plan:forward(x) end,
      {warmup = 2, reps = args.reps}))
    row(c[1], "modules", shape, fl, bench.time(function() net:forward(x) end,
      {warmup = 2, reps = args.reps}))
  end
end

return M

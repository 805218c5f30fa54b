-- The layers on hand-computed cases, their shape errors, and the module API.
local helper = require "helper"
local mtcnn = require "mtcnn"
local T = mtcnn.tensor
local nn = mtcnn.nn

describe("nn layers", function()
  before_each(function() T.manual_seed(3) end)

  it("Conv2d computes a hand-checked case, with bias, stride and padding", function()
    local m = nn.Conv2d(1, 1, 2)
    m.weight:copy_(T.tensor{{{{1, 0}, {0, -1}}}})
    m.bias:fill_(0.5)
    local x = T.arange(1, 10):view(1, 1, 3, 3)
    local y = m:forward(x)
    assert.are.same({1, 1, 2, 2}, y:size())
    assert.are.same({{{{-3.5, -3.5}, {-3.5, -3.5}}}}, y:to_table())
    -- stride 2, padding 1 on a 3x3 input: 2x2 output, reading zeros outside
    local p = nn.Conv2d(1, 1, 2, {stride = 2, pad = 1})
    p.weight:copy_(T.tensor{{{{1, 0}, {0, -1}}}})
    local yp = p:forward(x)
    assert.are.same({{{{-1, -3}, {-7, -4}}}}, yp:to_table())
    -- backward: the input gradient spreads each output gradient over the kernel
    local gx = m:backward(x, T.ones(1, 1, 2, 2))
    assert.are.same({{{{1, 1, 0}, {1, 0, -1}, {0, -1, -1}}}}, gx:to_table())
    assert.are.same({{{{12, 16}, {24, 28}}}}, m.grad_weight:to_table())
    assert.are.equal(4, m.grad_bias:get(1))
  end)

  it("Conv2d initialises with Xavier bounds and zero bias, reproducibly from a generator", function()
    local a = nn.Conv2d(16, 32, 3, {generator = T.generator(9)})
    local b = nn.Conv2d(16, 32, 3, {generator = T.generator(9)})
    assert.is_true(a.weight:equal(b.weight))
    local bound = math.sqrt(6 / ((16 + 32) * 9))
    assert.is_true(a.weight:max() <= bound and a.weight:min() >= -bound)
    assert.is_true(a.weight:max() > 0.9 * bound)
    assert.are.equal(0, a.bias:abs():sum())
  end)

  it("Linear flattens NCHW samples in (c, h, w) order", function()
    local m = nn.Linear(4, 2)
    m.weight:copy_(T.tensor{{1, 2, 3, 4}, {0, 0, 0, 1}})
    m.bias:copy_(T.tensor{0.5, -1})
    local x = T.tensor{{{{1, 2}}, {{3, 4}}}} -- 1x2x1x2: c=1 (1, 2), c=2 (3, 4)
    assert.are.same({{30.5, 3}}, m:forward(x):to_table())
    local gx = m:backward(x, T.tensor{{1, 1}})
    assert.are.same({1, 2, 1, 2}, gx:size())
    assert.are.same({{{{1, 2}}, {{3, 5}}}}, gx:to_table())
    assert.are.same({{1, 2, 3, 4}, {1, 2, 3, 4}}, m.grad_weight:to_table())
  end)

  it("PReLU: per-channel slopes starting at 0.25, slope gradient", function()
    local m = nn.PReLU(2)
    assert.are.same({0.25, 0.25}, m.weight:to_table())
    m.weight:copy_(T.tensor{0.25, -1})
    local x = T.tensor{{-2, 3}, {4, -5}}
    assert.are.same({{-0.5, 3}, {4, 5}}, m:forward(x):to_table())
    local gx = m:backward(x, T.tensor{{1, 1}, {1, 2}})
    assert.are.same({{0.25, 1}, {1, -2}}, gx:to_table())
    assert.are.same({-2, -10}, m.grad_weight:to_table())
  end)

  it("MaxPool2d uses Caffe's ceil-mode size and clips the last windows", function()
    assert.are.equal(3, nn.pool_out_size(5, 2, 2))  -- floor mode would give 2
    assert.are.equal(11, nn.pool_out_size(23, 3, 2))
    assert.are.equal(4, nn.pool_out_size(9, 3, 2))
    assert.are.equal(12, nn.pool_out_size(23, 2, 2))
    local m = nn.MaxPool2d(2, 2)
    local x = T.arange(1, 26):view(1, 1, 5, 5)
    local y = m:forward(x)
    assert.are.same({{{{7, 9, 10}, {17, 19, 20}, {22, 24, 25}}}}, y:to_table())
    local gx = m:backward(x, T.ones(1, 1, 3, 3))
    assert.are.equal(9, gx:sum())
    assert.are.equal(1, gx:get(1, 1, 5, 5))
    assert.are.equal(0, gx:get(1, 1, 1, 1))
    -- ties go to the first maximum of the window
    local t = nn.MaxPool2d(2, 2)
    local gt = t:backward(T.zeros(1, 1, 2, 2), T.ones(1, 1, 1, 1))
    assert.are.same({{{{1, 0}, {0, 0}}}}, gt:to_table())
  end)

  it("MaxPool2d backward routes to each window's first maximum (vectorised windows too)", function()
    -- values on a coarse grid: many ties; maps wide enough for full vectors and tails, with
    -- clipped last windows; every gradient checked against a plain search in Lua
    for _, c in ipairs({{3, 2, 11, 41}, {2, 2, 22, 22}, {3, 2, 9, 9}, {2, 2, 8, 37}, {3, 2, 46, 35}}) do
      local k, s, h, w = table.unpack(c)
      local g = T.generator(h * w + k)
      local vals = {}
      for i = 1, 2 * 3 * h * w do vals[i] = g:integer(0, 3) end
      local x = T.tensor(vals):view(2, 3, h, w)
      local m = nn.MaxPool2d(k, s)
      local y = m:forward(x)
      local dy = T.rand(y:size(), g)
      local dx = m:backward(x, dy) -- compares the windows with the forward output
      -- without the forward output: the windows searched again, the same gradient
      local again = require("mtcnn.core").nn.maxpool2d_backward(x, dy, T.empty(0), k, k, s, s)
      assert.is_true(again:equal(dx), "with and without the forward output")
      local want = {}
      for n = 1, 2 do
        for ch = 1, 3 do
          for oy = 1, y:size(3) do
            for ox = 1, y:size(4) do
              local y0, x0 = (oy - 1) * s, (ox - 1) * s
              local by, bx, best = y0, x0, x:get(n, ch, y0 + 1, x0 + 1)
              for yy = y0, math.min(y0 + k, h) - 1 do
                for xx = x0, math.min(x0 + k, w) - 1 do
                  local v = x:get(n, ch, yy + 1, xx + 1)
                  if v > best then by, bx, best = yy, xx, v end
                end
              end
              local key = ((n * 4 + ch) * 1000 + by) * 1000 + bx
              want[key] = (want[key] or 0) + dy:get(n, ch, oy, ox)
            end
          end
          for yy = 0, h - 1 do
            for xx = 0, w - 1 do
              local key = ((n * 4 + ch) * 1000 + yy) * 1000 + xx
              helper.near(dx:get(n, ch, yy + 1, xx + 1), want[key] or 0, 1e-6,
                ("pool %dx%d/%d on %dx%d at %d,%d"):format(k, k, s, h, w, yy, xx))
            end
          end
        end
      end
    end
  end)

  it("Softmax over channels, also at every position of a feature map", function()
    local m = nn.Softmax()
    local y = m:forward(T.tensor{{0, math.log(3)}})
    helper.near(y:get(1, 1), 0.25, 1e-6)
    helper.near(y:get(1, 2), 0.75, 1e-6)
    local x = T.randn(2, 3, 4, 5)
    local s = m:forward(x):sum(2)
    helper.tensor_near(s, T.ones(2, 1, 4, 5), 1e-6, "channel sums")
    -- large logits do not overflow
    local big = m:forward(T.tensor{{1000, 0}})
    assert.are.equal(1, big:get(1, 1))
    -- maps of 16 positions and more take the vectorised path: against double precision,
    -- with logits far apart (terms far below the largest) and an odd count of positions
    for _, shape in ipairs({{2, 3, 7, 5}, {1, 2, 13, 11}, {3, 17, 4, 4}}) do
      local lx = T.randn(shape, T.generator(#shape + shape[2])) * 40
      local ly = m:forward(lx)
      local worst = 0
      for n = 1, shape[1] do
        for i = 1, shape[3] do
          for j = 1, shape[4] do
            local mx = -math.huge
            for c = 1, shape[2] do mx = math.max(mx, lx:get(n, c, i, j)) end
            local sum = 0
            for c = 1, shape[2] do sum = sum + math.exp(lx:get(n, c, i, j) - mx) end
            for c = 1, shape[2] do
              local want = math.exp(lx:get(n, c, i, j) - mx) / sum
              worst = math.max(worst, math.abs(ly:get(n, c, i, j) - want))
            end
          end
        end
      end
      assert.is_true(worst < 3e-7, ("softmax %s: worst error %g"):format(table.concat(shape, "x"), worst))
    end
  end)

  it("Dropout: inverted scaling, seeded masks, identity in evaluate mode", function()
    local m = nn.Dropout(0.25, {generator = T.generator(4)})
    local x = T.ones(100, 100)
    local y = m:forward(x)
    local zeros = 0
    local v = y:view(y:numel())
    for i = 1, y:numel() do
      if v[i] == 0 then zeros = zeros + 1 else helper.near(v[i], 1 / 0.75, 1e-6) end
    end
    assert.is_true(zeros > 2200 and zeros < 2800, "about a quarter dropped: " .. zeros)
    local gx = m:backward(x, T.full(100, 100, 2))
    helper.tensor_near(gx, y * 2, 1e-6, "gradient uses the same mask")
    local again = nn.Dropout(0.25, {generator = T.generator(4)}):forward(x)
    assert.is_true(again:equal(y))
    m:evaluate()
    assert.are.equal(x, m:forward(x))
    assert.has_error(function() nn.Dropout(1) end)
  end)

  it("raises clear shape errors", function()
    local conv = nn.Conv2d(4, 8, 3)
    assert.has_error(function() conv:forward(T.zeros(2, 3, 5, 5)) end,
      "conv2d: input 2x3x5x5 has 3 channels, weight 8x4x3x3 expects 4")
    assert.has_error(function() conv:forward(T.zeros(1, 4, 2, 5)) end,
      "conv2d: input 1x4x2x5 (padding 0x0) is smaller than the 3x3 kernel")
    assert.has_error(function() conv:forward(T.zeros(4, 5, 5)) end,
      "conv2d: the input must have 4 dimensions, got 4x5x5")
    assert.has_error(function() nn.Linear(10, 2):forward(T.zeros(3, 9)) end,
      "linear: input 3x9 has 9 features per sample, weight 2x10 expects 10")
    assert.has_error(function() nn.PReLU(3):forward(T.zeros(2, 4, 2, 2)) end,
      "prelu: input 2x4x2x2 has 4 channels, slopes 3")
    assert.has_error(function() nn.Softmax():forward(T.zeros(2, 3, 4)) end,
      "softmax: the input must be [N,C] or [N,C,H,W], got 2x3x4")
    assert.has_error(function() nn.MaxPool2d(2):forward(T.zeros(3, 4)) end,
      "maxpool2d: the input must have 4 dimensions, got 3x4")
    assert.has_error(function() nn.Conv2d(0, 2, 3) end)
    local y = conv:forward(T.zeros(1, 4, 5, 5))
    assert.has_error(function() conv:backward(T.zeros(1, 4, 5, 5), T.zeros(1, 8, 2, 2)) end,
      "conv2d_backward: output gradient 1x8x2x2 does not match the output 1x8x3x3")
    assert.are.same({1, 8, 3, 3}, y:size())
  end)

  it("Sequential names the failing module; Heads return named and numbered outputs", function()
    local s = nn.Sequential():add(nn.Conv2d(3, 4, 3), "conv1"):add(nn.Conv2d(5, 2, 1), "conv2")
    local ok, err = pcall(s.forward, s, T.zeros(1, 3, 5, 5))
    assert.is_false(ok)
    assert.are.equal("In 2 module (conv2) of nn.Sequential: conv2d: input 1x4x3x3 has 4 channels, "
      .. "weight 2x5x1x1 expects 5", err)
    local h = nn.Heads():add("a", nn.Linear(3, 2)):add("b", nn.Linear(3, 1))
    local out = h:forward(T.ones(4, 3))
    assert.are.equal(out.a, out[1])
    assert.are.equal(out.b, out[2])
    assert.are.same({4, 1}, out.b:size())
    -- the input gradient is the sum over heads that have a gradient
    local ga = h:backward(T.ones(4, 3), {a = T.ones(4, 2)}):clone()
    local gab = h:backward(T.ones(4, 3), {a = T.ones(4, 2), b = T.ones(4, 1)})
    local wb = h:get("b").weight
    for i = 1, 4 do
      for j = 1, 3 do helper.near(gab:get(i, j) - ga:get(i, j), wb:get(1, j), 1e-6) end
    end
  end)

  it("parameters, zero_grad, training and evaluate walk the whole tree", function()
    local net = nn.Sequential():add(nn.Conv2d(3, 2, 3), "c"):add(nn.PReLU(2), "p")
      :add(nn.Heads():add("x", nn.Linear(2, 3)))
    net:get(3):get("x").name = "x"
    local params, grads = net:parameters()
    assert.are.equal(5, #params)
    assert.are.equal(#params, #grads)
    local names = {}
    for i, e in ipairs(net:named_parameters()) do names[i] = e.name end
    assert.are.same({"c.weight", "c.bias", "p.weight", "x.weight", "x.bias"}, names)
    for _, g in ipairs(grads) do g:fill_(1) end
    net:zero_grad()
    for _, g in ipairs(grads) do assert.are.equal(0, g:abs():sum()) end
    net:evaluate()
    assert.is_false(net:get(3):get("x").is_training)
    net:training()
    assert.is_true(net:get(3):get("x").is_training)
  end)

  it("fused evaluate pass equals the unfused one, and reuses buffers as sizes shrink", function()
    local net = mtcnn.models.pnet{landmarks = false, seed = 2}
    net:evaluate()
    local x = T.randn(1, 3, 60, 50)
    net.fuse = false
    local a = net:forward(x).cls:clone()
    net.fuse = true
    local b = net:forward(x).cls
    helper.tensor_near(a, b, 1e-6, "fused vs unfused")
    -- a fused pass keeps no pre-activations: backward refuses instead of computing garbage
    local ok, err = pcall(net.backward, net, T.randn(1, 3, 60, 50), {cls = T.zeros(1, 2, 25, 20)})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("backward after a fused evaluate-mode forward", 1, true))
    net:forward(T.randn(1, 3, 64, 64))
    collectgarbage()
    local before = T.memory().cpu
    for s = 60, 12, -4 do
      local out = net:forward(T.randn(1, 3, s, s))
      assert.are.equal(2, out.cls:size(2))
    end
    collectgarbage()
    -- the loop's inputs are garbage now; no layer buffer grew
    assert.is_true(T.memory().cpu <= before + 64, "no new buffers")
  end)

  it("fuses conv + PReLU + max pooling in evaluate mode, equal to the separate layers", function()
    for _, arch in ipairs({"rnet", "onet"}) do
      local net = mtcnn.models[arch]{seed = 3, dropout = arch == "onet" and 0 or nil}
      net:evaluate()
      local size = mtcnn.models.input_size[arch]
      local x = T.randn(5, 3, size, size, T.generator(4))
      net.fuse = false
      local a = net:forward(x)
      local ref = {a.cls:clone(), a.box:clone(), a.landmarks:clone()}
      local pool1 = net:get(3):forward(net:get(2).output):clone()
      net.fuse = true
      local b = net:forward(x)
      helper.tensor_near(b.cls, ref[1], 1e-6, arch .. " cls")
      helper.tensor_near(b.box, ref[2], 1e-5, arch .. " box")
      helper.tensor_near(b.landmarks, ref[3], 1e-5, arch .. " landmarks")
      -- the pass wrote the pooled map into the pool's own output, as the PReLU's output
      assert.are.equal(net:get(2).output, net:get(3).output)
      helper.tensor_near(net:get(3).output, pool1, 1e-5, arch .. " pool1")
      -- back in training mode every layer runs alone again
      net:training()
      local c = net:forward(x)
      helper.tensor_near(c.cls, ref[1], 1e-6, arch .. " cls after training()")
    end
  end)
end)

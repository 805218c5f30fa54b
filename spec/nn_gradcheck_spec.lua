-- Finite-difference gradient checks of every layer, container and loss (spec/gradcheck.lua).
local helper = require "helper"
local gradcheck = require "gradcheck"
local mtcnn = require "mtcnn"
local T = mtcnn.tensor
local nn = mtcnn.nn

-- Values in [-1, -0.1] U [0.1, 1]: away from PReLU's kink.
local function off_zero(...)
  local x = T.rand(...) * 0.9 + 0.1
  local sign = T.rand(...)
  local s = x:view(x:numel())
  local g = sign:view(sign:numel())
  for i = 1, x:numel() do
    if g[i] < 0.5 then s[i] = -s[i] end
  end
  return x
end

-- Distinct values 0.05 apart in random order: no ties inside pooling windows.
local function distinct(...)
  local x = T.rand(...)
  local n = x:numel()
  local order = {}
  for i = 1, n do order[i] = i end
  local gen = T.generator(3)
  for i = n, 2, -1 do
    local j = gen:integer(1, i)
    order[i], order[j] = order[j], order[i]
  end
  local v = x:view(n)
  for i = 1, n do v[i] = order[i] * 0.05 end
  return x
end

describe("nn gradients (finite differences)", function()
  before_each(function() T.manual_seed(11) end)

  it("Conv2d: input, weight and bias, several geometries", function()
    for _, c in ipairs({
      {cin = 3, cout = 4, k = 3, h = 7, w = 6, opts = {}},
      {cin = 2, cout = 5, k = 2, h = 5, w = 5, opts = {stride = 2}},
      {cin = 3, cout = 2, k = {3, 2}, h = 6, w = 7, opts = {pad = {1, 2}}},
      {cin = 4, cout = 3, k = 3, h = 9, w = 8, opts = {stride = {2, 3}, pad = 1}},
      {cin = 5, cout = 6, k = 1, h = 3, w = 4, opts = {}},
    }) do
      local m = nn.Conv2d(c.cin, c.cout, c.k, c.opts)
      local x = T.randn(2, c.cin, c.h, c.w)
      local worst, n = gradcheck.module(m, x, {eps = 1e-2, tol = 1e-2})
      assert.are.equal(3, n)
      assert.is_true(worst < 1e-2)
    end
  end)

  it("Linear: input (NCHW flattened), weight and bias", function()
    local m = nn.Linear(2 * 3 * 2, 5)
    gradcheck.module(m, T.randn(4, 2, 3, 2), {tol = 1e-2})
    gradcheck.module(nn.Linear(7, 3), T.randn(5, 7), {tol = 1e-2})
  end)

  it("PReLU: input and slopes, 2-D and 4-D", function()
    local m = nn.PReLU(3)
    m.weight:copy_(T.tensor{0.25, -0.5, 1.5})
    gradcheck.module(m, off_zero(2, 3, 4, 5), {eps = 1e-3, tol = 1e-2})
    gradcheck.module(nn.PReLU(6), off_zero(4, 6), {eps = 1e-3, tol = 1e-2})
  end)

  it("MaxPool2d: ceil mode, overlapping and clipped windows", function()
    for _, c in ipairs({{3, 2, 7, 9}, {2, 2, 5, 6}, {3, 2, 8, 8}, {2, 3, 7, 7}}) do
      local m = nn.MaxPool2d(c[1], c[2])
      gradcheck.module(m, distinct(2, 2, c[3], c[4]), {eps = 1e-3, tol = 1e-2})
    end
  end)

  it("Softmax over channels, [N,C] and [N,C,H,W]", function()
    gradcheck.module(nn.Softmax(), T.randn(3, 4), {eps = 1e-3, tol = 1e-2})
    gradcheck.module(nn.Softmax(), T.randn(2, 3, 2, 3), {eps = 1e-3, tol = 1e-2})
  end)

  it("Dropout in training mode (the same seeded mask on every pass)", function()
    local gen = T.generator(5)
    local drop = nn.Dropout(0.3, {generator = gen})
    -- reseed before each forward: the finite differences then see one fixed mask
    local m = setmetatable({}, {__index = drop})
    function m.forward(_, x)
      gen:seed(5)
      return drop:forward(x)
    end
    function m.backward(_, x, g) return drop:backward(x, g) end
    function m.zero_grad() end
    function m.named_parameters() return {} end
    local worst, n = gradcheck.module(m, T.randn(3, 4, 5), {eps = 1e-2, tol = 1e-3})
    assert.are.equal(1, n)
    assert.is_true(worst < 1e-3)
  end)

  it("Sequential and Heads: a small PNet-like net end to end", function()
    local net = nn.Sequential()
      :add(nn.Conv2d(3, 4, 3), "conv1"):add(nn.PReLU(4), "prelu1")
      :add(nn.MaxPool2d(2, 2), "pool1")
      :add(nn.Conv2d(4, 5, 2), "conv2"):add(nn.PReLU(5), "prelu2")
      :add(nn.Heads()
        :add("cls", nn.Sequential():add(nn.Conv2d(5, 2, 1), "cls"):add(nn.Softmax()))
        :add("box", nn.Conv2d(5, 4, 1)))
    -- eps small enough that no PReLU kink or pooling tie is crossed
    local worst, n = gradcheck.module(net, T.randn(2, 3, 9, 8), {eps = 1e-3, tol = 2e-2})
    assert.are.equal(1 + 10, n) -- the input and 10 parameter tensors
    assert.is_true(worst < 2e-2)
  end)

  it("a full ONet (dropout off) and RNet with landmark heads", function()
    local onet = mtcnn.models.onet{dropout = 0, seed = 5}
    onet.modules[1].skip_input_grad = false
    gradcheck.module(onet, T.randn(2, 3, 48, 48), {eps = 3e-4, tol = 3e-2, probes = 6})
    local rnet = mtcnn.models.rnet{seed = 5}
    gradcheck.module(rnet, T.randn(2, 3, 24, 24), {eps = 3e-4, tol = 3e-2, probes = 6,
      input = false})
  end)
end)

describe("MTCNNLoss gradients (finite differences)", function()
  -- probabilities, regressions and targets for 10 samples of every label
  local function batch(labels)
    local n = #labels
    local g = T.generator(21)
    local p = T.rand(n, 2, g) * 0.8 + 0.1
    return {
      cls = p, box = T.randn(n, 4, g), landmarks = T.randn(n, 10, g),
    }, {
      label = T.tensor(labels), box = T.randn(n, 4, g), landmarks = T.rand(n, 10, g),
    }
  end

  local function check_loss(crit, out, target)
    crit:forward(out, target)
    local grads = crit:backward(out, target)
    local saved = {}
    for k, v in pairs(grads) do
      if type(k) == "string" then saved[k] = v:clone() end
    end
    local function f() return crit:forward(out, target) end
    local g = T.generator(5)
    for k, v in pairs(saved) do
      gradcheck.compare("d" .. k, out[k], v, f, {eps = 1e-3, tol = 1e-2, probes = 40}, g)
    end
    return saved
  end

  it("with OHEM, masks and task weights", function()
    local out, target = batch({1, 0, 0, -1, -2, 1, 0, -2, -1, 0, 1, 0})
    local crit = nn.MTCNNLoss{cls = 1, box = 0.5, landmarks = 1, ohem = 0.7}
    local g = check_loss(crit, out, target)
    -- only kept samples carry a classification gradient: floor(0.7 * 8) = 5 of 8
    local nonzero = 0
    for i = 1, 12 do
      if g.cls:get(i, 1) ~= 0 or g.cls:get(i, 2) ~= 0 then nonzero = nonzero + 1 end
    end
    assert.are.equal(5, nonzero)
    assert.are.equal(5, crit.stats.n_kept)
  end)

  it("plain (unmasked, element mean) as the PyTorch configuration", function()
    local out, target = batch({1, 0, 0, 1, 1, 0})
    check_loss(nn.MTCNNLoss{ohem = 1, masked = false, reduction = "element"}, out, target)
  end)

  it("empty task sets give zero gradients, not NaN", function()
    local out, target = batch({-2, -2, -2})
    local crit = nn.MTCNNLoss{}
    local loss = crit:forward(out, target)
    assert.is_true(loss == loss)
    local g = crit:backward(out, target)
    assert.are.equal(0, g.cls:abs():sum())
    assert.are.equal(0, g.box:abs():sum())
    assert.is_true(g.landmarks:abs():sum() > 0)
    check_loss(crit, out, target)
  end)
end)

-- Training's fused PReLU + max pooling pass (core.nn.prelu_pool_forward / _backward, run by
-- nn.Sequential for a Conv2d, PReLU, MaxPool2d run in training mode): the same numbers as the
-- separate PReLU and MaxPool2d passes, bit for bit (the slope gradient to float rounding: its
-- partial sums are grouped differently), on the MTCNN geometries and odd ones
-- (clipped ceil-mode windows, ties, zero and negative slopes, layouts left to the scalar
-- search), with 1 and 2 threads; finite differences through the fused path; whole nets with
-- and without fusion; argument errors.
local helper = require "helper"
local mtcnn = require "mtcnn"
local gradcheck = require "gradcheck"
local T = mtcnn.tensor
local nn, sys, models = mtcnn.nn, mtcnn.sys, mtcnn.models
local C = require("mtcnn.core").nn

-- n, c, h, w, pool kernel, pool stride
local CASES = {
  {6, 28, 22, 22, 3, 2},  -- RNet conv1 (clipped last row and column)
  {5, 48, 9, 9, 3, 2},    -- RNet conv2 (whole windows)
  {7, 10, 10, 10, 2, 2},  -- PNet conv1
  {3, 32, 46, 46, 3, 2},  -- ONet conv1 (several vectors per row)
  {3, 64, 8, 8, 2, 2},    -- ONet conv3
  {4, 5, 7, 9, 2, 2},     -- odd sizes, 2x2 clipped
  {2, 3, 25, 40, 3, 2},   -- rows longer than two vectors, clipped
  {3, 4, 9, 11, 3, 1},    -- stride 1: the scalar search
  {2, 3, 10, 13, 2, 3},   -- stride above the kernel
  {2, 6, 3, 3, 4, 2},     -- a window larger than the map
}

local function max_diff(a, b)
  local d = (a - b):abs():max()
  return d
end

-- The separate passes: PReLU, pooling, pooling backward, PReLU backward.
local function separate(x, a, dy, k, s, da)
  local act = C.prelu_forward(x, a, T.empty(0))
  local y = C.maxpool2d_forward(act, T.empty(0), k, k, s, s)
  local dact = C.maxpool2d_backward(act, dy, T.empty(0), k, k, s, s, y)
  local dx = C.prelu_backward(x, a, dact, T.empty(0), da)
  return y, dx
end

local function check_case(cs, slopes, threads, integer_inputs)
  local n, c, h, w, k, s = table.unpack(cs)
  local g = T.generator(n * 100 + c + h)
  local x = T.randn(n, c, h, w, g)
  if integer_inputs then x = x:cmin(0.3) end -- plateaus: many windows' maximum is tied
  local a = slopes(c, g)
  sys.set_threads(threads)
  local y = C.prelu_pool_forward(x, a, T.empty(0), T.empty(0), k, k, s, s)
  local dy = T.randn(y:size(), g)
  local da_sep, da_fused = T.full(c, 0.5), T.full(c, 0.5) -- accumulated onto
  local y_sep, dx_sep = separate(x, a, dy, k, s, da_sep)
  local at = T.empty(0)
  local y2 = C.prelu_pool_forward(x, a, T.empty(0), at, k, k, s, s)
  local dx = C.prelu_pool_backward(x, a, at, dy, T.empty(0), da_fused, k, k, s, s)
  local what = ("case %s, %d threads%s"):format(table.concat(cs, "x"), threads,
    integer_inputs and ", ties" or "")
  assert.are.same(y_sep:size(), y2:size(), what)
  assert.are.equal(0, max_diff(y, y_sep), what .. ": pooled map")
  assert.are.equal(0, max_diff(y2, y_sep), what .. ": pooled map again")
  assert.are.equal(0, max_diff(dx, dx_sep), what .. ": input gradient")
  -- the slope sums are grouped per range of the split: the same to float rounding
  helper.tensor_near(da_fused, da_sep, 1e-6 * math.max(1, (da_sep:abs():max())),
    what .. ": slope gradient")
  -- the input gradient alone, the slope gradient alone
  local da_only = T.full(c, 0.5)
  assert.is_nil(C.prelu_pool_backward(x, a, at, dy, nil, da_only, k, k, s, s))
  assert.are.equal(0, max_diff(da_only, da_fused), what .. ": slope gradient alone")
  local dx_only = C.prelu_pool_backward(x, a, at, dy, T.empty(0), nil, k, k, s, s)
  assert.are.equal(0, max_diff(dx_only, dx_sep), what .. ": input gradient alone")
  -- every position is inside its own plane, and at a maximum
  local planes, ohw = n * c, y:size(3) * y:size(4)
  local atf, yf = at:view(planes * ohw), y:view(planes * ohw)
  local pre = C.prelu_forward(x, a, T.empty(0)):view(planes, h * w)
  for i = 1, planes * ohw, 7 do
    local pos = atf[i]
    assert.is_true(pos >= 0 and pos < h * w and pos == math.floor(pos), what .. ": position")
    assert.are.equal(yf[i], pre[(i - 1) // ohw + 1][pos + 1], what .. ": value at position")
  end
end

describe("fused PReLU + max pooling (training)", function()
  local saved
  before_each(function() saved = sys.threads() end)
  after_each(function() sys.set_threads(saved) end)

  it("equals the separate passes exactly, 1 and 2 threads", function()
    local function mixed(c, g) return T.rand(c, g) - 0.3 end -- some negative slopes
    for _, cs in ipairs(CASES) do
      for _, threads in ipairs({1, 2}) do check_case(cs, mixed, threads, false) end
    end
  end)

  it("keeps the first maximum on ties, with zero slopes too", function()
    local function zeros(c) return T.zeros(c) end
    local function quarter(c) return T.full(c, 0.25) end
    for _, cs in ipairs(CASES) do
      check_case(cs, zeros, 2, true)
      check_case(cs, quarter, 1, true)
    end
  end)

  it("gives finite-difference gradients through a Conv2d, PReLU, MaxPool2d net", function()
    for _, pool in ipairs({{3, 2}, {2, 2}, {2, 1}}) do
      local net = nn.Sequential()
        :add(nn.Conv2d(3, 4, 3, {generator = T.generator(1)}), "conv1")
        :add(nn.PReLU(4), "prelu1")
        :add(nn.MaxPool2d(pool[1], pool[2]), "pool1") -- 7x6 maps: 3x3/2 clips the last column
        :add(nn.Conv2d(4, 3, 2, {generator = T.generator(11)}), "conv2")
      net:training()
      -- eps small enough that no PReLU kink or pooling tie is crossed
      local worst, n = gradcheck.module(net, T.randn(2, 3, 9, 8, T.generator(21)),
        {eps = 1e-3, tol = 2e-2})
      assert.are.equal(1 + 5, n)
      assert.is_true(worst < 2e-2)
      assert.is_true(net.pooled_pair[3], "the pair ran fused")
    end
  end)

  it("nets give the same outputs and gradients fused and unfused", function()
    for _, arch in ipairs({"pnet", "rnet", "onet"}) do
      local function run(fuse, split)
        local net = models[arch]{seed = 3, dropout = arch == "onet" and 0 or nil}
        net:training()
        net.fuse = fuse
        local g = T.generator(7)
        local size = models.input_size[arch]
        local x = T.rand(8, 3, size, size, g) * 2 - 1
        local crit = nn.MTCNNLoss{net = arch}
        local label = T.tensor({1, 0, -1, -2, 1, 0, 0, -2})
        local target = {label = label, box = T.randn(8, 4, g), landmarks = T.rand(8, 10, g)}
        net:zero_grad()
        local out = net:forward(x)
        crit:forward(out, target)
        local gy = crit:backward(out, target)
        if split then
          net:update_grad_input(x, gy)
          net:acc_grad_parameters(x, gy)
        else
          net:backward(x, gy)
        end
        local _, grads = net:parameters()
        local copies = {}
        for i, t in ipairs(grads) do copies[i] = t:clone() end
        return out.cls:clone(), copies, net
      end
      local cls_a, ga, net = run(true, false)
      assert.is_true(net.pooled_pair[3], arch .. ": fused")
      local cls_b, gb = run(false, false)
      local cls_c, gc = run(true, true)
      assert.are.equal(0, max_diff(cls_a, cls_b), arch .. " outputs")
      for i = 1, #ga do
        -- equal to float rounding (the slope gradients' sums are grouped by range; backward
        -- forms a first layer's gradients from the pooled gradient in one pass, the split
        -- calls through the stored output gradient)
        local tol = 1e-6 * math.max(1, (gb[i]:abs():max()))
        helper.tensor_near(ga[i], gb[i], tol, arch .. " gradient " .. i)
        helper.tensor_near(ga[i], gc[i], tol, arch .. " gradient " .. i .. " (split)")
      end
      assert.are.equal(0, max_diff(cls_a, cls_c), arch .. " outputs (split)")
    end
  end)

  it("first layers: parameter gradients from the pooled gradient on every kernel set the CPU runs", function()
    -- n, cin, h, w, cout, k, stride, pad, pool k, pool s: the wide engine path (RNet and ONet
    -- conv1), and a strided, padded one that goes through the stored output gradient
    local cases = {{5, 3, 24, 24, 28, 3, 1, 0, 3, 2}, {2, 3, 48, 48, 32, 3, 1, 0, 3, 2},
                   {3, 4, 15, 13, 6, 3, 2, 1, 3, 2}}
    local kernels = nn.kernels()
    for _, cs in ipairs(cases) do
      local n, cin, h, w, cout, k, st, pad, pk, ps = table.unpack(cs)
      local g = T.generator(n + cin + h)
      local x, wt, b = T.randn(n, cin, h, w, g), T.randn(cout, cin, k, k, g) * 0.3, T.randn(cout, g)
      local a = T.rand(cout, g) - 0.3
      local z = C.conv2d_forward(x, wt, b, T.empty(0), st, st, pad, pad)
      local at = T.empty(0)
      local y = C.prelu_pool_forward(z, a, T.empty(0), at, pk, pk, ps, ps)
      local gy = T.randn(y:size(), g)
      -- reference: the separate passes on the reference kernels
      nn.set_kernels("ref")
      local dz = C.prelu_pool_backward(z, a, at, gy, T.empty(0), nil, pk, pk, ps, ps)
      local dw0, db0, da0 = T.full(wt:size(), 0.5), T.full(cout, 0.25), T.full(cout, 0.5)
      C.conv2d_backward_params(x, dz, dw0, db0, st, st, pad, pad)
      C.prelu_pool_backward(z, a, at, gy, nil, da0, pk, pk, ps, ps)
      -- every set this CPU runs (the AVX-512 one only where the CPU has it)
      local runnable = {}
      for _, set in ipairs({"ref", "blas", "generic", "avx2", "avx512"}) do
        if pcall(nn.set_kernels, set) then runnable[#runnable + 1] = set end
      end
      assert.is_true(#runnable >= 3, table.concat(runnable, ", "))
      for _, set in ipairs(runnable) do
        for _, threads in ipairs({1, 2}) do
          nn.set_kernels(set)
          sys.set_threads(threads)
          local dw, db, da = T.full(wt:size(), 0.5), T.full(cout, 0.25), T.full(cout, 0.5)
          C.conv2d_prelu_pool_backward_params(x, z, a, at, gy, T.empty(0), dw, db, da,
            st, st, pad, pad, pk, pk, ps, ps)
          local what = ("%s, %d threads, case %s"):format(set, threads, table.concat(cs, "x"))
          local function near(u, v, name)
            helper.tensor_near(u, v, 2e-5 * math.max(1, (v:abs():max())), what .. ": " .. name)
          end
          near(dw, dw0, "weight gradient")
          near(db, db0, "bias gradient")
          near(da, da0, "slope gradient")
        end
      end
    end
    nn.set_kernels(kernels)
    -- an offset outside its map is refused on the engine path too
    local x, wt = T.randn(2, 3, 24, 24), T.randn(8, 3, 3, 3)
    local z = C.conv2d_forward(x, wt, nil, T.empty(0), 1, 1, 0, 0)
    local at = T.empty(0)
    local y = C.prelu_pool_forward(z, T.full(8, 0.25), T.empty(0), at, 3, 3, 2, 2)
    at:view(at:numel())[3] = -1
    local ok, e = pcall(C.conv2d_prelu_pool_backward_params, x, z, T.full(8, 0.25), at,
      T.randn(y:size()), T.empty(0), T.zeros(8, 3, 3, 3), nil, T.zeros(8), 1, 1, 0, 0, 3, 3, 2, 2)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("outside the 22x22 map", 1, true), tostring(e))
    ok, e = pcall(C.conv2d_prelu_pool_backward_params, x, z, T.full(8, 0.25), at,
      T.randn(2, 8, 10, 10), T.empty(0), T.zeros(8, 3, 3, 3), nil, T.zeros(8), 1, 1, 0, 0, 3, 3,
      2, 2)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("output gradient 2x8x10x10 does not match", 1, true), tostring(e))
  end)

  it("raises clear errors", function()
    local x, a = T.randn(2, 3, 6, 6), T.full(3, 0.25)
    local y, at = T.empty(0), T.empty(0)
    C.prelu_pool_forward(x, a, y, at, 2, 2, 2, 2)
    local function err(f, ...)
      local ok, e = pcall(f, ...)
      assert.is_false(ok)
      return tostring(e)
    end
    assert.truthy(err(C.prelu_pool_forward, x, T.full(4, 0.25), y, at, 2, 2, 2, 2)
      :find("prelu_pool: input 2x3x6x6 has 3 channels", 1, true))
    assert.truthy(err(C.prelu_pool_forward, T.randn(2, 3, 6), a, y, at, 2, 2, 2, 2)
      :find("must have 4 dimensions", 1, true))
    assert.truthy(err(C.prelu_pool_forward, x, a, x, at, 2, 2, 2, 2)
      :find("shares memory", 1, true))
    assert.truthy(err(C.prelu_pool_backward, x, a, at, T.randn(2, 3, 2, 2), nil, nil, 2, 2, 2, 2)
      :find("output gradient 2x3x2x2 does not match the pooled output 2x3x3x3", 1, true))
    local bad = at:clone()
    bad:view(bad:numel())[5] = 36
    assert.truthy(err(C.prelu_pool_backward, x, a, bad, T.randn(2, 3, 3, 3), T.empty(0), nil,
      2, 2, 2, 2):find("outside the 6x6 input plane", 1, true))
  end)

  it("allocates nothing once warm", function()
    local net = models.rnet{seed = 1}
    net:training()
    local x = T.randn(16, 3, 24, 24)
    local gy = {cls = T.randn(16, 2), box = T.randn(16, 4), landmarks = T.randn(16, 10)}
    for _ = 1, 2 do net:zero_grad(); net:forward(x); net:backward(x, gy) end
    collectgarbage()
    local before = T.memory().cpu
    for _ = 1, 3 do net:zero_grad(); net:forward(x); net:backward(x, gy) end
    collectgarbage()
    assert.are.equal(before, T.memory().cpu)
  end)
end)

-- The NN layers, the loss and the optimisers on a CUDA device against the CPU: every op
-- forward and backward on the MTCNN geometries and odd ones, a few training steps of each
-- net on both devices, the nets in evaluate mode, and the cascade on shared images. Tagged
-- #gpu (busted --lua=build/mtcnn -r gpu; scripts/gpu_check.sh); each test is pending
-- without a device. Tolerances: the GPU sums in other orders (cuDNN, cuBLAS, block
-- reductions), so sums agree to float rounding relative to their size; the kernels that
-- follow the CPU's order (pooling, PReLU + pooling's routing, softmax backward, the
-- optimisers) are compared exactly or nearly so.
local helper = require "helper"
local mtcnn = require "mtcnn"
local T, nn, models, optim = mtcnn.tensor, mtcnn.nn, mtcnn.models, mtcnn.optim
local C = require("mtcnn.core").nn

local need_gpu = helper.need_gpu

-- Asserts that gpu (a CUDA tensor) matches cpu within rel times the larger of 1 and cpu's
-- largest magnitude.
local function close(gpu, cpu, rel, what)
  assert.is_true(gpu:is_cuda(), what .. ": the GPU result is on the GPU")
  local scale = cpu:numel() > 0 and math.max(1, cpu:abs():max()) or 1
  helper.tensor_near(gpu:cpu(), cpu, rel * scale, what)
end

-- close() for each {name, gpu, cpu} of list, named "<what> <name>".
local function close_each(list, rel, what)
  for _, e in ipairs(list) do close(e[2], e[3], rel, what .. " " .. e[1]) end
end

local function empty() return T.empty(0) end
local function gempty() return T.empty(0):cuda() end
local function g(t) return t and t:cuda() or nil end

-- {n, cin, h, w, cout, k, stride, pad}
local CONVS = {
  {5, 3, 12, 12, 10, 3, 1, 0},   -- PNet conv1
  {4, 10, 5, 5, 16, 3, 1, 0},    -- PNet conv2
  {6, 3, 24, 24, 28, 3, 1, 0},   -- RNet conv1
  {3, 48, 4, 4, 64, 2, 1, 0},    -- RNet conv3
  {2, 64, 4, 4, 128, 2, 1, 0},   -- ONet conv4
  {3, 4, 9, 11, 5, 3, 2, 1},     -- stride and padding, odd sizes
  {2, 3, 40, 31, 8, 5, 3, 2},
}

-- {n, c, h, w, k, s}: pooling geometries (clipped ceil-mode windows, stride above kernel)
local POOLS = {
  {6, 28, 22, 22, 3, 2},
  {7, 10, 10, 10, 2, 2},
  {3, 32, 46, 46, 3, 2},
  {4, 5, 7, 9, 2, 2},
  {3, 4, 9, 11, 3, 1},
  {2, 3, 10, 13, 2, 3},
  {2, 6, 3, 3, 4, 2},
}

describe("nn layers on cuda against the cpu #gpu", function()
  it("convolution forward (bias, PReLU, fused pooling) and both backward passes", function()
    need_gpu()
    for _, cs in ipairs(CONVS) do
      local n, cin, h, w, cout, k, s, p = table.unpack(cs)
      local what = "conv " .. table.concat(cs, "x")
      local gen = T.generator(n * 1000 + cin * 10 + cout)
      local x, wt = T.randn(n, cin, h, w, gen), T.randn(cout, cin, k, k, gen) * 0.3
      local b, a = T.randn(cout, gen), T.rand(cout, gen) * 0.5 - 0.1
      local y = C.conv2d_forward(x, wt, b, empty(), s, s, p, p)
      close(C.conv2d_forward(g(x), g(wt), g(b), gempty(), s, s, p, p), y, 2e-5, what .. " forward")
      close(C.conv2d_forward(g(x), g(wt), nil, gempty(), s, s, p, p),
        C.conv2d_forward(x, wt, nil, empty(), s, s, p, p), 2e-5, what .. " forward, no bias")
      close(C.conv2d_forward(g(x), g(wt), g(b), gempty(), s, s, p, p, g(a)),
        C.conv2d_forward(x, wt, b, empty(), s, s, p, p, a), 2e-5, what .. " forward + PReLU")
      if y:size(3) >= 2 and y:size(4) >= 2 then
        for _, pk in ipairs({{2, 2}, {3, 2}}) do
          close(C.conv2d_forward(g(x), g(wt), g(b), gempty(), s, s, p, p, g(a), pk[1], pk[1], pk[2], pk[2]),
            C.conv2d_forward(x, wt, b, empty(), s, s, p, p, a, pk[1], pk[1], pk[2], pk[2]), 2e-5,
            what .. " forward + PReLU + pool " .. pk[1])
        end
      end
      local dy = T.randn(y:size(), gen)
      close(C.conv2d_backward_input(g(dy), g(wt), gempty(), x, s, s, p, p),
        C.conv2d_backward_input(dy, wt, empty(), x, s, s, p, p), 2e-5, what .. " input gradient")
      -- parameter gradients accumulate onto what is there
      local dw0, db0 = T.randn(wt:size(), gen), T.randn(cout, gen)
      local dw, db = dw0:clone(), db0:clone()
      local gdw, gdb = g(dw0), g(db0)
      C.conv2d_backward_params(x, dy, dw, db, s, s, p, p)
      C.conv2d_backward_params(g(x), g(dy), gdw, gdb, s, s, p, p)
      close_each({{"weight gradient", gdw, dw}, {"bias gradient", gdb, db}}, 1e-5, what)
      -- both at once
      local dw2, db2, gdw2, gdb2 = dw0:clone(), db0:clone(), g(dw0), g(db0)
      local dx = C.conv2d_backward(x, dy, wt, empty(), dw2, db2, s, s, p, p)
      local gdx = C.conv2d_backward(g(x), g(dy), g(wt), gempty(), gdw2, gdb2, s, s, p, p)
      close(gdx, dx, 2e-5, what .. " both: input gradient")
      close_each({{"weight gradient", gdw2, dw2}, {"bias gradient", gdb2, db2}}, 1e-5,
        what .. " both:")
    end
  end)

  it("fully connected forward (bias, PReLU, 4-d inputs) and backward", function()
    need_gpu()
    for _, cs in ipairs({{7, 576, 128}, {5, 1152, 256}, {3, 256, 10}, {4, {3, 3, 3}, 2}}) do
      local n, inp, out = cs[1], cs[2], cs[3]
      local shape = type(inp) == "table" and {n, table.unpack(inp)} or {n, inp}
      local nin = 1
      for i = 2, #shape do nin = nin * shape[i] end
      local what = ("linear %d -> %d"):format(nin, out)
      local gen = T.generator(nin + out)
      local x, wt = T.randn(shape, gen), T.randn(out, nin, gen) * 0.1
      local b, a = T.randn(out, gen), T.rand(out, gen) * 0.5
      close(C.linear_forward(g(x), g(wt), g(b), gempty()), C.linear_forward(x, wt, b, empty()),
        2e-5, what .. " forward")
      close(C.linear_forward(g(x), g(wt), nil, gempty(), g(a)),
        C.linear_forward(x, wt, nil, empty(), a), 2e-5, what .. " forward + PReLU, no bias")
      local dy = T.randn(n, out, gen)
      local gdx = C.linear_backward_input(g(dy), g(wt), gempty(), g(x))
      close(gdx, C.linear_backward_input(dy, wt, empty(), x), 2e-5, what .. " input gradient")
      assert.are.same(x:size(), gdx:size())
      local dw, db = T.randn(out, nin, gen), T.randn(out, gen)
      local gdw, gdb = g(dw), g(db)
      C.linear_backward_params(x, dy, dw, db)
      C.linear_backward_params(g(x), g(dy), gdw, gdb)
      close_each({{"weight gradient", gdw, dw}, {"bias gradient", gdb, db}}, 1e-5, what)
    end
  end)

  it("PReLU forward and backward (in place, without dx, without da)", function()
    need_gpu()
    for _, shape in ipairs({{5, 10, 10, 10}, {3, 28, 22, 22}, {7, 128}, {4, 3, 1, 1}}) do
      local what = "prelu " .. table.concat(shape, "x")
      local gen = T.generator(#shape * 100 + shape[2])
      local x, dy = T.randn(shape, gen), T.randn(shape, gen)
      local a = T.rand(shape[2], gen) - 0.25 -- negative and zero-crossing slopes too
      assert.is_true(C.prelu_forward(g(x), g(a), gempty()):cpu():equal(C.prelu_forward(x, a, empty())),
        what .. " forward")
      local da, gda = T.full(shape[2], 0.5), T.full(shape[2], 0.5):cuda()
      local dx = C.prelu_backward(x, a, dy, empty(), da)
      local gdx = C.prelu_backward(g(x), g(a), g(dy), gempty(), gda)
      assert.is_true(gdx:cpu():equal(dx), what .. " input gradient")
      close(gda, da, 1e-5, what .. " slope gradient")
      local gdy = g(dy)
      C.prelu_backward(g(x), g(a), gdy, gdy, nil)
      assert.is_true(gdy:cpu():equal(dx), what .. " in place")
      local gda2 = T.full(shape[2], 0.5):cuda()
      C.prelu_backward(g(x), g(a), g(dy), nil, gda2)
      close(gda2, da, 1e-5, what .. " slope gradient alone")
    end
  end)

  it("max pooling forward and backward, exactly (ceil mode, clipped windows, ties)", function()
    need_gpu()
    for _, cs in ipairs(POOLS) do
      local n, c, h, w, k, s = table.unpack(cs)
      local what = "pool " .. table.concat(cs, "x")
      local gen = T.generator(n * 100 + c + h)
      for _, ties in ipairs({false, true}) do
        local x = T.randn(n, c, h, w, gen)
        if ties then x = x:cmin(0.3) end
        local y = C.maxpool2d_forward(x, empty(), k, k, s, s)
        local gy = C.maxpool2d_forward(g(x), gempty(), k, k, s, s)
        assert.is_true(gy:cpu():equal(y), what .. " forward")
        local dy = T.randn(y:size(), gen)
        local dx = C.maxpool2d_backward(x, dy, empty(), k, k, s, s, y)
        assert.is_true(C.maxpool2d_backward(g(x), g(dy), gempty(), k, k, s, s, gy):cpu():equal(dx),
          what .. " backward with the forward's output")
        assert.is_true(C.maxpool2d_backward(g(x), g(dy), gempty(), k, k, s, s):cpu():equal(dx),
          what .. " backward, windows searched again")
      end
    end
  end)

  it("training's PReLU + pooling pair and the fused first layer", function()
    need_gpu()
    for _, cs in ipairs(POOLS) do
      local n, c, h, w, k, s = table.unpack(cs)
      local what = "prelu_pool " .. table.concat(cs, "x")
      local gen = T.generator(n * 7 + c * 3 + h)
      local x, a = T.randn(n, c, h, w, gen), T.rand(c, gen) - 0.3
      local at, gat = empty(), gempty()
      local y = C.prelu_pool_forward(x, a, empty(), at, k, k, s, s)
      local gy = C.prelu_pool_forward(g(x), g(a), gempty(), gat, k, k, s, s)
      assert.is_true(gy:cpu():equal(y), what .. " forward")
      assert.is_true(gat:cpu():equal(at), what .. " maxima positions")
      local dy = T.randn(y:size(), gen)
      local da, gda = T.full(c, 0.25), T.full(c, 0.25):cuda()
      local dx = C.prelu_pool_backward(x, a, at, dy, empty(), da, k, k, s, s)
      local gdx = C.prelu_pool_backward(g(x), g(a), gat, g(dy), gempty(), gda, k, k, s, s)
      assert.is_true(gdx:cpu():equal(dx), what .. " input gradient")
      close(gda, da, 1e-5, what .. " slope gradient")
      local gda2 = T.full(c, 0.25):cuda()
      assert.is_nil(C.prelu_pool_backward(g(x), g(a), gat, g(dy), nil, gda2, k, k, s, s))
      close(gda2, da, 1e-5, what .. " slope gradient alone")
    end
    -- conv -> PReLU -> pool parameter gradients of a first layer (PNet's and RNet's)
    for _, cs in ipairs({{6, 3, 12, 12, 10, 3, 2, 2}, {4, 3, 24, 24, 28, 3, 3, 2}}) do
      local n, cin, h, w, cout, k, pk, ps = table.unpack(cs)
      local what = "first layer " .. table.concat(cs, "x")
      local gen = T.generator(cout)
      local x, wt, b = T.randn(n, cin, h, w, gen), T.randn(cout, cin, k, k, gen) * 0.3, T.randn(cout, gen)
      local a = T.rand(cout, gen)
      local z = C.conv2d_forward(x, wt, b, empty(), 1, 1, 0, 0)
      local at = empty()
      local y = C.prelu_pool_forward(z, a, empty(), at, pk, pk, ps, ps)
      local gy = T.randn(y:size(), gen)
      local dw, db, da = T.zeros(wt:size()), T.zeros(cout), T.zeros(cout)
      local gdw, gdb, gda = g(dw), g(db), g(da)
      C.conv2d_prelu_pool_backward_params(x, z, a, at, gy, empty(), dw, db, da, 1, 1, 0, 0, pk, pk, ps, ps)
      C.conv2d_prelu_pool_backward_params(g(x), g(z), g(a), g(at), g(gy), gempty(), gdw, gdb, gda,
        1, 1, 0, 0, pk, pk, ps, ps)
      close_each({{"weight gradient", gdw, dw}, {"bias gradient", gdb, db},
        {"slope gradient", gda, da}}, 1e-5, what)
    end
  end)

  it("softmax over channels, forward and backward, in place too", function()
    need_gpu()
    for _, shape in ipairs({{9, 2}, {5, 2, 17, 13}, {3, 7, 4, 5}, {4, 10}}) do
      local what = "softmax " .. table.concat(shape, "x")
      local gen = T.generator(shape[1] * 31 + shape[2])
      local x, dy = T.randn(shape, gen) * 4, T.randn(shape, gen)
      local y = C.softmax_forward(x, empty())
      local gy = C.softmax_forward(g(x), gempty())
      close(gy, y, 1e-6, what .. " forward")
      local gx = g(x)
      C.softmax_forward(gx, gx)
      close(gx, y, 1e-6, what .. " forward in place")
      close(C.softmax_backward(g(y), g(dy), gempty()), C.softmax_backward(y, dy, empty()), 1e-6,
        what .. " backward")
    end
  end)

  it("dropout masks are the CPU's for a seed", function()
    need_gpu()
    local like = T.empty(4, 32, 3, 3)
    local m = C.dropout_mask(empty(), like, 0.25, T.generator(3))
    local gm = C.dropout_mask(gempty(), like:cuda(), 0.25, T.generator(3))
    assert.is_true(gm:is_cuda())
    assert.is_true(gm:cpu():equal(m))
  end)
end)

describe("the multi-task loss on cuda against the cpu #gpu", function()
  -- A batch of n samples: softmax probabilities, outputs and targets, and labels with every
  -- kind (masked) or 0/1 (unmasked).
  local function batch(n, masked, seed)
    local gen = T.generator(seed)
    local cls = C.softmax_forward(T.randn(n, 2, gen) * 3, empty())
    local label = T.zeros(n)
    local kinds = masked and {1, 0, -1, -2, 0} or {1, 0}
    for i = 1, n do label[i] = kinds[gen:integer(1, #kinds)] end
    return {cls = cls, box = T.randn(n, 4, gen) * 0.2, lmk = T.rand(n, 10, gen), label = label,
            box_t = T.randn(n, 4, gen) * 0.2, lmk_t = T.rand(n, 10, gen)}
  end

  local function run(b, o, gpu)
    local d = gpu and g or function(t) return t end
    local dcls, dbox, dlmk = T.empty(0), T.empty(0), T.empty(0)
    if gpu then dcls, dbox, dlmk = dcls:cuda(), dbox:cuda(), dlmk:cuda() end
    local r = {C.mtcnn_loss(d(b.cls), d(b.box), o.lmk and d(b.lmk) or nil, d(b.label), d(b.box_t),
      o.lmk and d(b.lmk_t) or nil, dcls, dbox, o.lmk and dlmk or nil, o.w_cls, o.w_box, o.w_lmk,
      o.ohem, o.masked, o.element_mean)}
    return r, dcls, dbox, dlmk
  end

  it("gives the CPU's values, counts, OHEM selection and gradients", function()
    need_gpu()
    local options = {
      {w_cls = 1, w_box = 0.5, w_lmk = 0.5, ohem = 0.7, masked = true, element_mean = false, lmk = true},
      {w_cls = 1, w_box = 0.5, w_lmk = 1, ohem = 1, masked = true, element_mean = false, lmk = true},
      {w_cls = 1, w_box = 0.5, w_lmk = 0.5, ohem = 0.3, masked = true, element_mean = false, lmk = false},
      {w_cls = 1, w_box = 0.5, w_lmk = 1, ohem = 1, masked = false, element_mean = true, lmk = true},
      {w_cls = 2, w_box = 0.25, w_lmk = 0.5, ohem = 0.7, masked = false, element_mean = false, lmk = true},
    }
    for oi, o in ipairs(options) do
      for _, n in ipairs({1, 7, 384, 1000}) do
        local what = ("loss options %d, %d samples"):format(oi, n)
        local b = batch(n, o.masked, n + oi)
        local r, dcls, dbox, dlmk = run(b, o, false)
        local gr, gdcls, gdbox, gdlmk = run(b, o, true)
        for i = 1, 4 do helper.near(gr[i], r[i], 1e-6 * math.max(1, math.abs(r[i])), what .. " value " .. i) end
        if r[5] == r[5] then helper.near(gr[5], r[5], 1e-12, what .. " accuracy")
        else assert.is_true(gr[5] ~= gr[5], what .. " accuracy NaN") end
        for i = 6, 10 do assert.are.equal(r[i], gr[i], what .. " count " .. i) end
        -- the kept samples are the same ones: the gradients agree element by element
        close(gdcls, dcls, 1e-6, what .. " classification gradient")
        close(gdbox, dbox, 1e-6, what .. " box gradient")
        if o.lmk then close(gdlmk, dlmk, 1e-6, what .. " landmark gradient") end
      end
    end
  end)

  it("keeps tied losses by sample index, as the CPU", function()
    need_gpu()
    local n = 40
    local cls = T.full({n, 2}, 0.5)
    local label = T.zeros(n)
    for i = 1, n, 2 do label[i] = 1 end
    local o = {w_cls = 1, w_box = 0, w_lmk = 0, ohem = 0.7, masked = true, element_mean = false}
    local b = {cls = cls, box = T.zeros(n, 4), label = label, box_t = T.zeros(n, 4)}
    local r, dcls = run(b, o, false)
    local gr, gdcls = run(b, o, true)
    assert.are.equal(r[7], gr[7])
    assert.is_true(gdcls:cpu():equal(dcls))
  end)

  it("reports a bad label as the CPU does", function()
    need_gpu()
    local b = batch(6, true, 9)
    b.label[4] = 3
    local o = {w_cls = 1, w_box = 0.5, w_lmk = 0.5, ohem = 0.7, masked = true, element_mean = false, lmk = true}
    local _, cpu_err = pcall(run, b, o, false)
    local ok, gpu_err = pcall(run, b, o, true)
    assert.is_false(ok)
    assert.are.equal(tostring(cpu_err):match("mtcnn_loss: .*"), tostring(gpu_err):match("mtcnn_loss: .*"))
    b.label[4] = -1
    o.masked = false
    _, cpu_err = pcall(run, b, o, false)
    ok, gpu_err = pcall(run, b, o, true)
    assert.is_false(ok)
    assert.are.equal(tostring(cpu_err):match("mtcnn_loss: .*"), tostring(gpu_err):match("mtcnn_loss: .*"))
  end)
end)

describe("optimisers on cuda against the cpu #gpu", function()
  local function lists(gpu)
    local gen = T.generator(77)
    local ps, gs = {T.randn(10, 3, 3, 3, gen), T.randn(10, gen), T.randn(128, 576, gen)}, {}
    for i, p in ipairs(ps) do gs[i] = T.randn(p:size(), gen) end
    if gpu then
      for i = 1, #ps do ps[i], gs[i] = ps[i]:cuda(), gs[i]:cuda() end
    end
    return ps, gs
  end

  it("SGD (plain, momentum, nesterov, per-parameter decay) and Adam take the CPU's steps", function()
    need_gpu()
    local configs = {
      {"SGD", {lr = 0.1}},
      {"SGD", {lr = 0.01, momentum = 0.9, weight_decay = 5e-4}},
      {"SGD", {lr = 0.01, momentum = 0.9, nesterov = true, weight_decay = {0, 1e-3, 5e-4}}},
      {"SGD", {lr = 0.01, momentum = 0.5, dampening = 0.1}},
      {"Adam", {lr = 1e-3}},
      {"Adam", {lr = 1e-2, betas = {0.8, 0.99}, eps = 1e-6, weight_decay = 1e-4}},
    }
    for ci, c in ipairs(configs) do
      local ps, gs = lists(false)
      local gps, ggs = lists(true)
      local opt, gopt = optim[c[1]](ps, gs, c[2]), optim[c[1]](gps, ggs, c[2])
      for step = 1, 4 do
        opt:step()
        gopt:step()
        for i = 1, #ps do
          close(gps[i], ps[i], 1e-6, ("%s config %d step %d parameter %d"):format(c[1], ci, step, i))
        end
      end
    end
  end)

  it("moves an optimiser's state with opt:to, keeping its values", function()
    need_gpu()
    local ps, gs = lists(false)
    local ref_ps, ref_gs = lists(false)
    local opt = optim.SGD(ps, gs, {lr = 0.01, momentum = 0.9})
    local ref = optim.SGD(ref_ps, ref_gs, {lr = 0.01, momentum = 0.9})
    opt:step()
    ref:step()
    local first = ps[1]
    opt:to("cuda")
    assert.are.equal(first, opt.params[1]) -- the same tensors, moved in place
    assert.is_true(first:is_cuda() and opt.bufs[1]:is_cuda() and opt.grads[1]:is_cuda())
    opt:step()
    ref:step()
    for i = 1, #ps do close(ps[i], ref_ps[i], 1e-6, "after the move, parameter " .. i) end
    opt:to("cpu")
    assert.is_false(ps[1]:is_cuda())
  end)

  it("computes the L2 penalty and its gradients", function()
    need_gpu()
    local ps, gs = lists(false)
    local gps, ggs = lists(true)
    local core = require "mtcnn.core"
    local v = core.optim.l2_penalty(ps, gs, 5e-4)
    local gv = core.optim.l2_penalty(gps, ggs, 5e-4)
    helper.near(gv, v, 1e-9 * math.max(1, v), "penalty")
    for i = 1, #gs do close(ggs[i], gs[i], 1e-6, "penalty gradient " .. i) end
  end)
end)

describe("nets on cuda against the cpu #gpu", function()
  -- The MTCNN labels of bench.lua train: positives, part faces, negatives, landmark faces.
  local function target(n, gen)
    local label = T.zeros(n)
    for i = 1, n do label[i] = ({1, -1, 0, 0, 0, -2})[(i - 1) % 6 + 1] end
    return {label = label, box = T.randn(n, 4, gen) * 0.1, landmarks = T.rand(n, 10, gen)}
  end

  local function to_device(t, dev)
    local out = {}
    for k, v in pairs(t) do out[k] = v:to(dev) end
    return out
  end

  it("trains every net a few steps to the CPU's losses and weights", function()
    need_gpu()
    for _, arch in ipairs({"pnet", "rnet", "onet"}) do
      for _, kind in ipairs({"SGD", "Adam"}) do
        local size, n = models.input_size[arch], 96
        local gen = T.generator(5)
        local x = T.rand(n, 3, size, size, gen) * 2 - 1
        local tg = target(n, gen)
        local runs = {}
        for _, dev in ipairs({"cpu", "cuda"}) do
          -- dropout off: its masks are drawn per call and would differ with the call order
          local net = models[arch](arch == "onet" and {seed = 3, dropout = 0} or {seed = 3})
          net:training()
          local crit = nn.MTCNNLoss{net = arch}
          local params, grads = net:parameters()
          local opt = kind == "SGD" and optim.SGD(params, grads, {lr = 1e-2, momentum = 0.9})
            or optim.Adam(params, grads, {lr = 1e-3})
          -- the optimiser was made before the move: net:to keeps its lists, opt:to its state
          net:to(dev)
          opt:to(dev)
          local step = optim.train_step(net, crit, opt)
          local xs, ts = x:to(dev), to_device(tg, dev)
          local losses = {}
          for s = 1, 5 do losses[s] = step(xs, ts) end
          runs[dev] = {losses = losses, net = net}
        end
        for s = 1, 5 do
          helper.near(runs.cuda.losses[s], runs.cpu.losses[s], 1e-4 * math.max(1, runs.cpu.losses[s]),
            ("%s %s step %d loss"):format(arch, kind, s))
        end
        local cpu_params = runs.cpu.net:named_parameters()
        for i, e in ipairs(runs.cuda.net:named_parameters()) do
          close(e.tensor, cpu_params[i].tensor, 1e-4, ("%s %s %s after 5 steps"):format(arch, kind, e.name))
        end
      end
    end
  end)

  it("runs the nets in evaluate mode (fused passes) as the CPU", function()
    need_gpu()
    for _, arch in ipairs({"pnet", "rnet", "onet"}) do
      local size = models.input_size[arch]
      local cpu = models[arch]{seed = 11}
      local gpu = models[arch]{seed = 11}:to("cuda")
      cpu:evaluate()
      gpu:evaluate()
      local inputs = {T.rand(17, 3, size, size, T.generator(2)) * 2 - 1}
      if arch == "pnet" then inputs[2] = T.rand(1, 3, 97, 131, T.generator(4)) * 2 - 1 end
      for _, x in ipairs(inputs) do
        local out, gout = cpu:forward(x), gpu:forward(x:cuda())
        for _, key in ipairs({"cls", "box", "landmarks"}) do
          if out[key] then close(gout[key], out[key], 1e-5, arch .. " evaluate " .. key) end
        end
      end
    end
  end)

  it("refuses to mix devices with a clear message", function()
    need_gpu()
    local net = models.pnet{}:to("cuda")
    local ok, err = pcall(net.forward, net, T.randn(2, 3, 12, 12))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("tensors on different devices", 1, true), err)
  end)
end)

describe("the cascade on cuda #gpu", function()
  -- The project's parity bar (README, 'Detection parity'): the same number of faces, each
  -- CPU face matched by a GPU face with IoU >= 0.95, landmarks within 1.5 px, score within
  -- 0.01 (the convolutions sum in other orders, so values differ in the last bits).
  local function iou(a, b)
    local iw = math.min(a[3], b[3]) - math.max(a[1], b[1]) + 1
    local ih = math.min(a[4], b[4]) - math.max(a[2], b[2]) + 1
    if iw <= 0 or ih <= 0 then return 0 end
    local area = function(r) return (r[3] - r[1] + 1) * (r[4] - r[2] + 1) end
    return iw * ih / (area(a) + area(b) - iw * ih)
  end

  local function same_faces(a, b, what)
    assert.are.equal(#a, #b, what .. ": face count")
    for _, f in ipairs(a) do
      local best, best_iou = nil, -1
      for _, h in ipairs(b) do
        local o = iou(f.box, h.box)
        if o > best_iou then best, best_iou = h, o end
      end
      assert.is_true(best_iou >= 0.95, ("%s: a face's best IoU is %.3f"):format(what, best_iou))
      helper.near(best.score, f.score, 0.01, what .. " score")
      for k = 1, 5 do
        helper.near(best.landmarks[k][1], f.landmarks[k][1], 1.5, what .. " landmark x")
        helper.near(best.landmarks[k][2], f.landmarks[k][2], 1.5, what .. " landmark y")
      end
    end
  end

  it("finds the CPU's faces on the shared images, one by one and batched", function()
    need_gpu()
    helper.need_shared("images")
    local dir = helper.shared .. "/images"
    local names = {}
    for _, name in ipairs(mtcnn.sys.listdir(dir) or {}) do
      if name:match("%.png$") or name:match("%.jpe?g$") then names[#names + 1] = name end
    end
    table.sort(names)
    assert.is_true(#names > 0)
    local cpu = assert(mtcnn.detector.new{})
    local gpu = assert(mtcnn.detector.new{device = "cuda"})
    assert.are.equal("cuda", gpu:settings().device)
    local images = {}
    for i, name in ipairs(names) do
      images[i] = assert(mtcnn.image.load(dir .. "/" .. name))
      same_faces(cpu:detect(images[i]), gpu:detect(images[i]), name)
    end
    local all_cpu, all_gpu = cpu:detect_batch(images), gpu:detect_batch(images)
    for i, name in ipairs(names) do same_faces(all_cpu[i], all_gpu[i], name .. " (batched)") end
  end)
end)

describe("cuda training and detection from the command line #gpu", function()
  it("bench.lua train and detect run on the device", function()
    need_gpu()
    local out, code = helper.mtcnn("scripts/bench.lua train --device cuda --net pnet --reps 3 --warmup 1 --json")
    assert.are.equal(0, code, out)
    local row = mtcnn.json.decode(out:match("[^\n]+"))
    assert.are.equal("cuda", row.device)
    assert.is_true(row.samples_per_s > 0)
    out, code = helper.mtcnn("scripts/bench.lua detect --device cuda --reps 2 --json")
    assert.are.equal(0, code, out)
    row = mtcnn.json.decode(out:match("[^\n]+"))
    assert.are.equal("cuda", row.device)
    assert.is_true(row.faces > 0)
  end)
end)

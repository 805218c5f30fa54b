-- Every CPU kernel set (OpenBLAS, the GEMM engine with portable, AVX2 and AVX-512
-- micro-kernels) against the reference loops, on the MTCNN layer shapes and on odd ones:
-- forward (with and without the fused bias + PReLU), input gradient, parameter gradients (and
-- both gradients from one call, equal to the two calls),
-- for convolutions and fully connected layers, and the fused conv + PReLU + max pooling of
-- evaluate mode, with 1 and 2 threads.
local helper = require "helper"
local mtcnn = require "mtcnn"
local T = mtcnn.tensor
local nn, sys = mtcnn.nn, mtcnn.sys
local C = require("mtcnn.core").nn

local SETS = {"blas", "generic", "avx2", "avx512"}

-- conv cases: batch, cin, h, w, cout, kh, kw, stride, pad
local CONVS = {
  {3, 3, 12, 12, 10, 3, 3, 1, 0},   -- PNet conv1
  {3, 10, 5, 5, 16, 3, 3, 1, 0},    -- PNet conv2
  {5, 16, 3, 3, 32, 3, 3, 1, 0},    -- PNet conv3
  {4, 32, 1, 1, 2, 1, 1, 1, 0},     -- PNet heads
  {2, 3, 24, 24, 28, 3, 3, 1, 0},   -- RNet conv1
  {2, 28, 11, 11, 48, 3, 3, 1, 0},  -- RNet conv2
  {3, 48, 4, 4, 64, 2, 2, 1, 0},    -- RNet conv3
  {1, 3, 48, 48, 32, 3, 3, 1, 0},   -- ONet conv1
  {1, 32, 23, 23, 64, 3, 3, 1, 0},  -- ONet conv2
  {2, 64, 10, 10, 64, 3, 3, 1, 0},  -- ONet conv3
  {2, 64, 4, 4, 128, 2, 2, 1, 0},   -- ONet conv4
  {1, 3, 37, 29, 10, 3, 3, 1, 0},   -- PNet on an odd pyramid level
  {2, 5, 9, 11, 7, 3, 2, 2, 1},     -- strides and padding
  {1, 7, 8, 13, 33, 5, 3, 3, 2},
  {3, 1, 6, 6, 1, 1, 1, 1, 0},
  {2, 17, 7, 5, 15, 2, 3, 1, 1},
  {2, 32, 9, 7, 2, 1, 1, 1, 0},     -- 1x1 head on a feature map (direct path, two samples)
  {3, 4, 6, 9, 5, 2, 2, 1, 0},      -- direct path, panels spanning samples
  {2, 6, 5, 5, 7, 5, 5, 1, 0},      -- kernel as large as the input: a fully connected layer
  {3, 17, 9, 12, 19, 3, 3, 1, 0},   -- Winograd F(2x2, 3x3): odd output height, short rows
  {2, 16, 14, 7, 16, 3, 3, 1, 0},   -- Winograd: odd output width
  {1, 16, 40, 37, 20, 3, 3, 1, 0},  -- Winograd: a map split into bands of rows
  {1, 20, 13, 40, 33, 3, 3, 1, 0},  -- Winograd: tile rows longer than a vector
  {2, 6, 4, 5, 9, 3, 3, 2, 1},      -- small map, strided and padded: the dense (Toeplitz) gradients
  {4, 8, 4, 4, 12, 3, 3, 1, 1},     -- small map, padded: the dense gradients
  {18, 28, 11, 11, 48, 3, 3, 1, 0}, -- RNet conv2, one sample per lane: a whole group and a part
  {35, 7, 9, 12, 9, 3, 3, 1, 0},    -- one sample per lane: two whole groups, odd plane sizes
  {20, 12, 4, 4, 16, 2, 2, 1, 0},   -- one sample per lane, input gradient of a small map (RNet conv3)
}

-- fused conv + PReLU + max pooling cases: batch, cin, h, w, cout, kh, kw, stride, pad, pool
-- kernel, pool stride (the MTCNN blocks at their detection shapes, and odd ones: clipped
-- ceil-mode windows, bands that split a map, geometries the fused path leaves to the
-- separate passes)
local POOLED = {
  {1, 3, 40, 57, 10, 3, 3, 1, 0, 2, 2},   -- PNet conv1 + pool1, odd pyramid level
  {1, 3, 150, 203, 10, 3, 3, 1, 0, 2, 2}, -- a level large enough to be split into bands
  {3, 3, 24, 24, 28, 3, 3, 1, 0, 3, 2},   -- RNet conv1 + pool1
  {3, 28, 11, 11, 48, 3, 3, 1, 0, 3, 2},  -- RNet conv2 + pool2
  {2, 3, 48, 48, 32, 3, 3, 1, 0, 3, 2},   -- ONet conv1 + pool1
  {2, 32, 23, 23, 64, 3, 3, 1, 0, 3, 2},  -- ONet conv2 + pool2
  {3, 64, 10, 10, 64, 3, 3, 1, 0, 2, 2},  -- ONet conv3 + pool3
  {13, 28, 11, 11, 48, 3, 3, 1, 0, 3, 2}, -- groups of samples, tiles spanning two of them
  {9, 16, 10, 10, 24, 3, 3, 1, 0, 2, 2},  -- groups, an uneven last group
  {13, 20, 10, 10, 24, 2, 2, 1, 0, 2, 2}, -- direct tiles on groups (2x2 kernel: not Winograd)
  {5, 17, 12, 15, 18, 3, 3, 1, 0, 3, 2},  -- Winograd rows into the pooling, odd sizes
  {1, 16, 70, 45, 16, 3, 3, 1, 0, 2, 2},  -- Winograd in bands of pooled rows
  {2, 5, 13, 17, 7, 3, 2, 1, 0, 3, 3},    -- clipped windows on both axes
  {2, 4, 9, 10, 3, 1, 1, 1, 0, 4, 2},     -- 1x1 kernel, window larger than the stride
  {2, 6, 7, 30, 5, 2, 5, 1, 0, 1, 1},     -- pool 1x1: the plain conv + PReLU
  {2, 5, 9, 11, 7, 3, 3, 2, 1, 2, 2},     -- strided and padded: the separate passes
  {1, 4, 6, 20, 3, 3, 3, 1, 0, 2, 2},     -- narrow output rows: the separate passes
}

-- linear cases: batch, in, out
local LINEARS = {{7, 576, 128}, {5, 1152, 256}, {9, 128, 2}, {4, 256, 10}, {33, 19, 17}, {1, 3, 1}}

local function run_conv(c, set, fused)
  local n, cin, h, w, cout, kh, kw, s, p = table.unpack(c)
  local g = T.generator(n * 1000 + cin * 10 + cout)
  local x = T.randn(n, cin, h, w, g)
  local wt = T.randn(cout, cin, kh, kw, g) * 0.3
  local b = T.randn(cout, g)
  local a = fused and (T.rand(cout, g) - 0.5) or nil
  nn.set_kernels(set)
  local y = C.conv2d_forward(x, wt, b, T.empty(0), s, s, p, p, a)
  local dy = T.randn(y:size(), g)
  local dx = C.conv2d_backward_input(dy, wt, T.empty(0), x, s, s, p, p)
  local dw, db = T.full(wt:size(), 0.5), T.full(cout, 0.25) -- accumulate onto these
  C.conv2d_backward_params(x, dy, dw, db, s, s, p, p)
  -- both gradients in one call: the same numbers as the two calls
  local dw2, db2 = T.full(wt:size(), 0.5), T.full(cout, 0.25)
  local dx2 = C.conv2d_backward(x, dy, wt, T.empty(0), dw2, db2, s, s, p, p)
  local what = ("%s conv %s: one backward call"):format(set, table.concat(c, ","))
  assert.are.equal(0, dx2:max_abs_diff(dx), what .. ": input gradient")
  assert.are.equal(0, dw2:max_abs_diff(dw), what .. ": weight gradient")
  assert.are.equal(0, db2:max_abs_diff(db), what .. ": bias gradient")
  return y, dx, dw, db
end

local function run_pooled(c, set, fused)
  local n, cin, h, w, cout, kh, kw, s, p, pk, ps = table.unpack(c)
  local g = T.generator(n * 1000 + cin * 10 + cout + pk)
  local x = T.randn(n, cin, h, w, g)
  local wt = T.randn(cout, cin, kh, kw, g) * 0.3
  local b = T.randn(cout, g)
  local a = fused and (T.rand(cout, g) - 0.5) or nil
  nn.set_kernels(set)
  return C.conv2d_forward(x, wt, b, T.empty(0), s, s, p, p, a, pk, pk, ps, ps)
end

local function run_linear(c, set, fused)
  local n, nin, nout = table.unpack(c)
  local g = T.generator(n * 100 + nin + nout)
  local x = T.randn(n, nin, g)
  local wt = T.randn(nout, nin, g) * 0.1
  local b = T.randn(nout, g)
  local a = fused and (T.rand(nout, g) - 0.5) or nil
  nn.set_kernels(set)
  local y = C.linear_forward(x, wt, b, T.empty(0), a)
  local dy = T.randn(y:size(), g)
  local dx = C.linear_backward_input(dy, wt, T.empty(0), x)
  local dw, db = T.full(wt:size(), 0.5), T.full(nout, 0.25)
  C.linear_backward_params(x, dy, dw, db)
  return y, dx, dw, db
end

-- The reference results, computed once per case.
local ref_cache = {}
local RUN = {conv = run_conv, linear = run_linear, pooled = run_pooled}
local function reference(kind, i, c, fused)
  local key = kind .. i .. tostring(fused)
  if not ref_cache[key] then
    local run = RUN[kind]
    ref_cache[key] = {run(c, "ref", fused)}
  end
  return table.unpack(ref_cache[key])
end

-- max |a - b| relative to the reference's scale
local function close(a, b, what)
  local scale = math.max(1, (b:abs():max())) -- the value only: max() also returns the index
  helper.tensor_near(a, b, 2e-5 * scale, what)
end

-- close() on each of a layer's four results: output and the three gradients
local RESULTS = {"output", "input gradient", "weight gradient", "bias gradient"}
local function close_all(got, ref, what)
  for k = 1, #RESULTS do close(got[k], ref[k], what .. ": " .. RESULTS[k]) end
end

describe("CPU kernel sets against the reference", function()
  local saved_kernels, saved_threads
  setup(function()
    saved_kernels, saved_threads = nn.kernels(), sys.threads()
  end)
  teardown(function()
    nn.set_kernels(saved_kernels)
    sys.set_threads(saved_threads)
  end)

  it("knows its kernel sets and refuses unknown ones", function()
    assert.has_error(function() nn.set_kernels("fastest") end,
      "kernels: unknown kernel set 'fastest' (ref, blas, generic, avx2, avx512 or auto)")
    local before = nn.set_kernels("ref")
    assert.are.equal("ref", nn.kernels())
    nn.set_kernels(before)
  end)

  for _, set in ipairs(SETS) do
    it(set .. ": convolutions and fully connected layers, 1 and 2 threads", function()
      if not pcall(nn.set_kernels, set) then
        pending("this CPU cannot run the " .. set .. " kernels")
        return
      end
      for _, threads in ipairs({1, 2}) do
        sys.set_threads(threads)
        for i, c in ipairs(CONVS) do
          for _, fused in ipairs({false, true}) do
            local ry, rdx, rdw, rdb = reference("conv", i, c, fused)
            local y, dx, dw, db = run_conv(c, set, fused)
            close_all({y, dx, dw, db}, {ry, rdx, rdw, rdb}, ("%s conv case %d (%s)%s, %d threads")
              :format(set, i, table.concat(c, ","), fused and " fused" or "", threads))
          end
        end
        for i, c in ipairs(POOLED) do
          for _, fused in ipairs({false, true}) do
            local ry = reference("pooled", i, c, fused)
            local y = run_pooled(c, set, fused)
            close(y, ry, ("%s conv + pool case %d (%s)%s, %d threads"):format(set, i,
              table.concat(c, ","), fused and " with PReLU" or "", threads))
          end
        end
        for i, c in ipairs(LINEARS) do
          for _, fused in ipairs({false, true}) do
            local ry, rdx, rdw, rdb = reference("linear", i, c, fused)
            local y, dx, dw, db = run_linear(c, set, fused)
            close_all({y, dx, dw, db}, {ry, rdx, rdw, rdb},
              ("%s linear case %d%s"):format(set, i, fused and " fused" or ""))
          end
        end
      end
    end)
  end

  it("the reference conv + pool is the convolution followed by the pooling", function()
    nn.set_kernels("ref")
    local g = T.generator(5)
    local x, wt, b, a = T.randn(2, 3, 9, 8, g), T.randn(4, 3, 3, 3, g), T.randn(4, g), T.rand(4, g)
    local y = C.conv2d_forward(x, wt, b, T.empty(0), 1, 1, 0, 0, a, 3, 3, 2, 2)
    local conv = C.conv2d_forward(x, wt, b, T.empty(0), 1, 1, 0, 0, a)
    assert.are.same({2, 4, 3, 3}, y:size())
    assert.is_true(y:equal(C.maxpool2d_forward(conv, T.empty(0), 3, 3, 2, 2)))
  end)

  it("conv + pool checks its arguments", function()
    local x, wt = T.randn(1, 3, 9, 9), T.randn(4, 3, 3, 3)
    assert.has_error(function()
      C.conv2d_forward(x, wt, nil, T.empty(0), 1, 1, 0, 0, nil, 0, 2, 2, 2)
    end)
    assert.has_error(function()
      C.conv2d_forward(T.randn(1, 2, 9, 9), wt, nil, T.empty(0), 1, 1, 0, 0, nil, 2, 2, 2, 2)
    end, "conv2d_pool: input 1x2x9x9 has 2 channels, weight 4x3x3x3 expects 3")
    assert.has_error(function()
      C.conv2d_forward(x, wt, T.randn(3), T.empty(0), 1, 1, 0, 0, nil, 2, 2, 2, 2)
    end, "conv2d_pool: the bias must be a vector of 4 values, got 3")
  end)

  it("a whole RNet training step agrees across kernel sets", function()
    local results = {}
    for _, set in ipairs({"ref", "blas", "avx512", "avx2", "generic"}) do
      if pcall(nn.set_kernels, set) then
        local net = mtcnn.models.rnet{seed = 8}
        local x = T.randn(6, 3, 24, 24, T.generator(1))
        local out = net:forward(x)
        local crit = nn.MTCNNLoss{ohem = 1}
        crit:forward(out, {label = T.tensor{1, 0, -1, -2, 0, 1}, box = T.zeros(6, 4),
                           landmarks = T.zeros(6, 10)})
        net:zero_grad()
        net:backward(x, crit:backward(out, {label = T.tensor{1, 0, -1, -2, 0, 1}}))
        results[#results + 1] = {set, net:get(1).grad_weight:clone(), out.cls:clone()}
      end
    end
    for k = 2, #results do
      close(results[k][2], results[1][2], results[k][1] .. " conv1 weight gradient")
      close(results[k][3], results[1][3], results[k][1] .. " probabilities")
    end
  end)
end)

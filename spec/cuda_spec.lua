-- CUDA tensors. Without a GPU only the first block runs (clear errors, no
-- crash); the blocks tagged #gpu check every op against the CPU and skip when
-- no device is present:  busted --lua=build/mtcnn -r gpu
local mtcnn = require "mtcnn"
local T = mtcnn.tensor
local cuda = mtcnn.cuda
local helper = require "helper"

describe("cuda without a device", function()
  it("reports no device and refuses to move tensors with a clear error", function()
    if cuda.available() then pending("a GPU is present; the #gpu specs cover it") end
    assert.is_false(cuda.available())
    local info, why = cuda.device_info()
    assert.is_nil(info)
    assert.matches("^cuda: ", why)
    local ok, err = pcall(function() return T.ones(2):cuda() end)
    assert.is_false(ok)
    if cuda.compiled() then
      assert.matches("cuda: no CUDA device available", err, 1, true)
    else
      assert.matches("this build of mtcnn has no CUDA backend", err, 1, true)
    end
    assert.has_no.errors(cuda.synchronize)
  end)

  it("says whether this build contains the CUDA backend", function()
    assert.is_boolean(cuda.compiled())
  end)
end)

describe("cuda tensors #gpu", function()
  local need_gpu = helper.need_gpu

  -- A few CPU inputs in every layout the kernels must walk.
  local function inputs()
    T.manual_seed(99)
    local base = T.randn(3, 4, 5, 6)
    return {
      contiguous = base,
      transposed = base:transpose(2, 4),          -- 3x6x5x4, strided
      narrowed = base:narrow(4, 2, 3),            -- 3x4x5x3, strided
      matrix = T.randn(17, 33):t(),               -- 33x17
      vector = T.randn(1000),
      big = T.randn(2, 1000, 1000),               -- many blocks in the reductions
    }
  end

  it("describes the device", function()
    need_gpu()
    local info = assert(cuda.device_info())
    assert.is_string(info.name)
    assert.matches("^%d+%.%d+$", info.capability)
    assert.is_true(info.total_memory > 0)
    assert.is_true(info.count >= 1)
  end)

  it("moves tensors to the GPU and back unchanged", function()
    need_gpu()
    for name, t in pairs(inputs()) do
      local g = t:cuda()
      assert.is_true(g:is_cuda(), name)
      assert.are.equal("cuda", g:device())
      assert.are.same(t:size(), g:size(), name)
      assert.is_true(g:cpu():equal(t), name)
      assert.is_true(g:to("cpu"):equal(t), name)
    end
    local g = T.zeros(2, 2):cuda()
    assert.matches("on cuda%]$", tostring(g))
    assert.are.same({{0, 0}, {0, 0}}, g:to_table())
  end)

  it("agrees with the CPU on every elementwise op, on strided views too", function()
    need_gpu()
    for name, t in pairs(inputs()) do
      local g = t:cuda()
      local u = t:abs():add_(0.5) -- positive operand for sqrt, log, pow
      local gu = u:cuda()
      for _, op in ipairs({"neg", "abs", "exp"}) do
        helper.tensor_near(g[op](g):cpu(), t[op](t), 1e-5, name .. " " .. op)
      end
      helper.tensor_near(gu:sqrt():cpu(), u:sqrt(), 1e-6, name .. " sqrt")
      helper.tensor_near(gu:log():cpu(), u:log(), 1e-6, name .. " log")
      for _, op in ipairs({"add", "sub", "mul", "div", "cmax", "cmin"}) do
        helper.tensor_near(g[op](g, gu):cpu(), t[op](t, u), 1e-5, name .. " " .. op)
        helper.tensor_near(g[op](g, 1.5):cpu(), t[op](t, 1.5), 1e-5, name .. " " .. op .. " scalar")
      end
      helper.tensor_near(gu:pow(1.7):cpu(), u:pow(1.7), 1e-4, name .. " pow")
      helper.tensor_near((2 - g):cpu(), 2 - t, 1e-6, name .. " rsub")
      helper.tensor_near((2 / gu):cpu(), 2 / u, 1e-5, name .. " rdiv")
      -- in place, into a strided view on the GPU
      local gc = g:clone()
      gc:mul_(3):add_(gc)
      helper.tensor_near(gc:cpu(), t * 6, 1e-5, name .. " in place")
    end
  end)

  it("agrees with the CPU on fill, copy and views", function()
    need_gpu()
    local g = T.zeros(4, 6):cuda()
    g:narrow(2, 2, 3):fill_(7)
    local c = T.zeros(4, 6)
    c:narrow(2, 2, 3):fill_(7)
    assert.is_true(g:cpu():equal(c))
    local src = T.randn(6, 4)
    g:copy_(src:t():cuda())
    assert.is_true(g:cpu():equal(src:t():contiguous()))
    g:select(1, 2):copy_(T.arange(6)) -- cross-device copy into a view
    assert.are.same(T.arange(6):to_table(), g:select(1, 2):to_table())
    assert.are.same({3, 2}, g:narrow(1, 2, 2):t():contiguous():narrow(1, 1, 3):size())
  end)

  it("agrees with the CPU on every reduction, overall and along each dimension", function()
    need_gpu()
    for name, t in pairs(inputs()) do
      local g = t:cuda()
      local tol = 1e-3 * math.max(1, t:numel() / 1e4)
      helper.near(g:sum(), t:sum(), tol, name .. " sum")
      helper.near(g:mean(), t:mean(), 1e-6, name .. " mean")
      local gv, gi = g:max()
      local cv, ci = t:max()
      assert.are.equal(cv, gv, name .. " max")
      assert.are.equal(ci, gi, name .. " max index")
      gv, gi = g:min()
      cv, ci = t:min()
      assert.are.equal(cv, gv, name .. " min")
      assert.are.equal(ci, gi, name .. " min index")
      assert.are.equal(t:argmax(), g:argmax(), name .. " argmax")
      for d = 1, t:dim() do
        helper.tensor_near(g:sum(d):cpu(), t:sum(d), 1e-4, name .. " sum dim " .. d)
        helper.tensor_near(g:mean(d):cpu(), t:mean(d), 1e-6, name .. " mean dim " .. d)
        local gmv, gmi = g:max(d)
        local cmv, cmi = t:max(d)
        assert.is_true(gmv:cpu():equal(cmv), name .. " max dim " .. d)
        assert.is_true(gmi:cpu():equal(cmi), name .. " max indices dim " .. d)
        assert.is_true(g:argmin(d):cpu():equal(t:argmin(d)), name .. " argmin dim " .. d)
      end
    end
  end)

  it("breaks ties and NaNs the same way as the CPU", function()
    need_gpu()
    local t = T.tensor{{1, 5, 5, 0 / 0, 2}, {3, 3, 3, 3, 3}}
    local g = t:cuda()
    assert.are.equal(select(2, t:max()), select(2, g:max()))
    assert.is_true(g:max() ~= g:max())
    assert.is_true(g:argmax(2):cpu():equal(t:argmax(2)))
    local r = T.tensor{{1, 5, 5, 2}}
    assert.are.equal(2, r:cuda():argmax())
  end)

  it("makes the same random numbers as the CPU for a seed", function()
    need_gpu()
    local a = T.empty(1000):cuda():uniform_(0, 1, T.generator(5))
    local b = T.empty(1000):uniform_(0, 1, T.generator(5))
    assert.is_true(a:cpu():equal(b))
  end)

  it("refuses to mix devices and names both", function()
    need_gpu()
    local c, g = T.ones(3), T.ones(3):cuda()
    assert.has_error(function() return c + g end,
      "add: tensors on different devices (cpu and cuda); move them with :cuda() or :cpu() first")
    assert.has_error(function() g:mul_(c) end,
      "mul: tensors on different devices (cuda and cpu); move them with :cuda() or :cpu() first")
  end)

  it("saves GPU tensors and frees device memory", function()
    need_gpu()
    local dir = helper.tmpdir()
    local g = T.randn(10, 10):cuda()
    assert(g:save(dir .. "/g.mtt"))
    assert.is_true(T.load(dir .. "/g.mtt"):equal(g:cpu()))
    helper.rmdir(dir)
    collectgarbage()
    local before = T.memory().cuda
    local big = T.zeros(1000, 1000):cuda()
    assert.is_true(T.memory().cuda >= before + 4e6)
    big:free()
    assert.is_true(T.memory().cuda < before + 4e6)
  end)

  it("reports running out of device memory as an error", function()
    need_gpu()
    local info = cuda.device_info()
    local n = math.floor(info.total_memory / 4 / 1e6 * 2) -- twice the device
    local ok, err = pcall(function() return T.empty{n, 1000, 1000, device = "cuda"} end)
    assert.is_false(ok)
    assert.matches("cuda: out of device memory", err, 1, true)
    -- the device still works afterwards
    assert.are.equal(6, T.ones{2, 3, device = "cuda"}:sum())
  end)
end)

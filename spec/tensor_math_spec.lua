-- Elementwise arithmetic, reductions and comparisons, checked against values
-- computed by hand.
local T = require("mtcnn").tensor

local function approx(expected, t, tol)
  local got = t:to_table()
  local function walk(e, g, path)
    if type(e) == "table" then
      assert.are.equal(#e, #g, "length at " .. path)
      for i = 1, #e do walk(e[i], g[i], path .. "/" .. i) end
    else
      assert(math.abs(e - g) <= (tol or 1e-6), ("at %s: expected %.9g, got %.9g"):format(path, e, g))
    end
  end
  walk(expected, got, "")
end

describe("elementwise arithmetic", function()
  local a = T.tensor{{1, 2, 3}, {4, 5, 6}}
  local b = T.tensor{{6, 5, 4}, {3, 2, 1}}

  it("adds, subtracts, multiplies and divides tensors", function()
    assert.are.same({{7, 7, 7}, {7, 7, 7}}, a:add(b):to_table())
    assert.are.same({{-5, -3, -1}, {1, 3, 5}}, a:sub(b):to_table())
    assert.are.same({{6, 10, 12}, {12, 10, 6}}, a:mul(b):to_table())
    approx({{1 / 6, 2 / 5, 3 / 4}, {4 / 3, 5 / 2, 6}}, a:div(b))
    assert.are.same({{7, 7, 7}, {7, 7, 7}}, (a + b):to_table())
    assert.are.same({{6, 10, 12}, {12, 10, 6}}, (a * b):to_table())
  end)

  it("works with scalars on either side", function()
    assert.are.same({{2, 3, 4}, {5, 6, 7}}, (a + 1):to_table())
    assert.are.same({{2, 3, 4}, {5, 6, 7}}, (1 + a):to_table())
    assert.are.same({{9, 8, 7}, {6, 5, 4}}, (10 - a):to_table())
    assert.are.same({{0, 1, 2}, {3, 4, 5}}, (a - 1):to_table())
    assert.are.same({{2, 4, 6}, {8, 10, 12}}, (2 * a):to_table())
    approx({{12, 6, 4}, {3, 2.4, 2}}, 12 / a)
    approx({{0.5, 1, 1.5}, {2, 2.5, 3}}, a / 2)
    assert.are.same({{-1, -2, -3}, {-4, -5, -6}}, (-a):to_table())
    assert.are.same({{1, 4, 9}, {16, 25, 36}}, (a ^ 2):to_table())
  end)

  it("has in-place forms that return the tensor itself", function()
    local t = a:clone()
    local r = t:add_(b)
    assert.are.equal(t, r)
    assert.are.same({{7, 7, 7}, {7, 7, 7}}, t:to_table())
    t:sub_(1):mul_(2):div_(4)
    assert.are.same({{3, 3, 3}, {3, 3, 3}}, t:to_table())
    t:mul_(b)
    assert.are.same({{18, 15, 12}, {9, 6, 3}}, t:to_table())
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, a:to_table()) -- the source is untouched
  end)

  it("computes unary functions", function()
    local t = T.tensor{1, 4, 9}
    approx({1, 2, 3}, t:sqrt())
    approx({0, math.log(4), math.log(9)}, t:log(), 1e-6)
    approx({math.exp(1), math.exp(4)}, T.tensor{1, 4}:exp(), 1e-3)
    assert.are.same({3, 0, 2}, T.tensor{-3, 0, 2}:abs():to_table())
    assert.are.same({-1, -4, -9}, t:neg():to_table())
    local u = T.tensor{-2, 5}
    u:abs_()
    assert.are.same({2, 5}, u:to_table())
    assert.are.same({1, 5}, T.tensor{1, 7}:cmin(5):to_table())
    assert.are.same({3, 7}, T.tensor{1, 7}:cmax(T.tensor{3, 2}):to_table())
  end)

  it("works on strided views (transposed and narrowed operands)", function()
    local x = T.arange(12):view(3, 4)
    local y = T.arange(12):view(4, 3):t() -- 3x4, strided
    local z = x + y
    assert.are.same({3, 4}, z:size())
    assert.are.equal(0 + 0, z:get(1, 1))
    assert.are.equal(x:get(2, 3) + 7, z:get(2, 3)) -- y(2,3) = element (3,2) of the 4x3 = 7
    local n = x:narrow(2, 2, 2) -- {{1,2},{5,6},{9,10}}
    n:mul_(10)
    assert.are.same({{0, 10, 20, 3}, {4, 50, 60, 7}, {8, 90, 100, 11}}, x:to_table())
    local s = x:narrow(2, 2, 2) + x:narrow(2, 1, 2)
    assert.are.same({{10, 30}, {54, 110}, {98, 190}}, s:to_table())
  end)

  it("rejects mismatched shapes and operand types with a message", function()
    assert.has_error(function() return a + T.zeros(3, 2) end, "add: shape mismatch: 2x3 and 3x2")
    assert.has_error(function() a:mul_(T.zeros(6)) end, "mul: shape mismatch: 2x3 and 6")
    assert.has_error(function() a:add("x") end, "add: expected a tensor or a number, got string")
  end)
end)

describe("reductions", function()
  local t = T.tensor{{3, 1, 4}, {1, 5, 9}}

  it("sums and averages everything or along a dimension", function()
    assert.are.equal(23, t:sum())
    assert.are.equal(23 / 6, t:mean())
    assert.are.same({{4, 6, 13}}, t:sum(1):to_table())
    assert.are.same({{8}, {15}}, t:sum(2):to_table())
    approx({{8 / 3}, {5}}, t:mean(2))
    assert.are.same({{8}, {15}}, t:sum(-1):to_table())
  end)

  it("finds max and min with 1-based indices", function()
    local v, i = t:max()
    assert.are.equal(9, v)
    assert.are.equal(6, i)
    v, i = t:min()
    assert.are.equal(1, v)
    assert.are.equal(2, i) -- the first of the two 1s
    local mv, mi = t:max(2)
    assert.are.same({{4}, {9}}, mv:to_table())
    assert.are.same({{3}, {3}}, mi:to_table())
    local nv, ni = t:min(1)
    assert.are.same({{1, 1, 4}}, nv:to_table())
    assert.are.same({{2, 1, 1}}, ni:to_table())
    assert.are.equal(6, t:argmax())
    assert.are.same({{1, 2, 2}}, t:argmax(1):to_table())
    assert.are.same({{2}, {1}}, t:argmin(2):to_table())
  end)

  it("reduces strided views by their logical order", function()
    local tt = t:t() -- {{3,1},{1,5},{4,9}}
    assert.are.same({{4, 6, 13}}, tt:sum(2):t():to_table())
    local v, i = tt:max()
    assert.are.equal(9, v)
    assert.are.equal(6, i)
    assert.are.equal(2, tt:argmin()) -- (1,2) holds the first 1 in row-major order of tt
    assert.are.same({{3, 3}}, tt:argmax(1):to_table())
  end)

  it("reduces 4-d tensors along each dimension", function()
    local x = T.arange(120):view(2, 3, 4, 5)
    for d = 1, 4 do
      local s = x:sum(d)
      local size = x:size()
      size[d] = 1
      assert.are.same(size, s:size())
      assert.are.equal(x:sum(), s:sum())
    end
    assert.are.equal(119, x:max())
    assert.are.same({2, 3, 4, 1}, x:argmax(4):size())
    assert.are.equal(5 * 2 * 3 * 4, x:argmax(4):sum())
  end)

  it("propagates NaN through max and min", function()
    local n = T.tensor{1, 0 / 0, 3}
    local v, i = n:max()
    assert.is_true(v ~= v)
    assert.are.equal(2, i)
    assert.is_true(n:min() ~= n:min())
    assert.is_true(n:sum() ~= n:sum())
  end)

  it("handles empty tensors", function()
    local e = T.zeros(0)
    assert.are.equal(0, e:sum())
    assert.is_true(e:mean() ~= e:mean())
    assert.has_error(function() e:max() end, "max: the tensor is empty")
    assert.are.same({1, 3}, T.zeros(0, 3):sum(1):size())
  end)
end)

describe("comparison within a tolerance", function()
  it("measures the largest absolute difference", function()
    local a = T.tensor{1, 2, 3}
    local b = T.tensor{1, 2.5, 2}
    assert.are.equal(1, a:max_abs_diff(b))
    assert.are.equal(0, a:max_abs_diff(a:clone()))
  end)

  it("decides allclose with relative and absolute tolerances", function()
    local a = T.tensor{1, 100}
    assert.is_true(a:allclose(T.tensor{1 + 1e-7, 100 + 1e-4}))
    assert.is_false(a:allclose(T.tensor{1.01, 100}))
    assert.is_true(a:allclose(T.tensor{1.01, 100}, 0, 0.02))
    assert.is_true(a:allclose(T.tensor{1.5, 150}, 0.5, 0))
    assert.is_false(a:allclose(T.tensor{1, 100, 0}))
    assert.is_false(T.tensor{0 / 0}:allclose(T.tensor{0 / 0}))
    assert.is_true(a:equal(T.tensor{1, 100}))
    assert.is_false(a:equal(T.tensor{1, 100.0001}))
  end)
end)

describe("threads", function()
  local sys = require("mtcnn").sys

  it("give the same elementwise results with 1 and with several threads", function()
    local saved = sys.threads()
    T.manual_seed(5)
    local a, b = T.randn(1000, 1000), T.randn(1000, 1000)
    sys.set_threads(1)
    local one = (a * b + a):div_(3):exp()
    sys.set_threads(4)
    assert.are.equal(4, sys.threads())
    local four = (a * b + a):div_(3):exp()
    sys.set_threads(saved)
    assert.is_true(one:equal(four))
  end)

  it("survive many small parallel regions in a row", function()
    local t = T.zeros(1 << 17)
    for _ = 1, 2000 do t:add_(1) end
    assert.are.equal(2000 * (1 << 17), t:sum())
  end)

  it("reject thread counts out of range", function()
    assert.has_error(function() sys.set_threads(0) end)
    assert.has_error(function() sys.set_threads(65) end)
  end)
end)

-- Creation, shape queries, element access and table conversion of tensors.
local T = require("mtcnn").tensor

describe("tensor creation", function()
  it("makes zeros, ones and full tensors of a given shape", function()
    local z = T.zeros(2, 3)
    assert.are.same({2, 3}, z:size())
    assert.are.equal(6, z:numel())
    assert.are.equal(2, z:dim())
    assert.are.equal(0, z:sum())
    assert.are.equal(6, T.ones(2, 3):sum())
    assert.are.equal(6, T.ones{2, 3}:sum())
    local f = T.full(2, 2, 7.5)
    assert.are.same({{7.5, 7.5}, {7.5, 7.5}}, f:to_table())
    assert.are.same({{-1, -1, -1}}, T.full({1, 3}, -1):to_table())
  end)

  it("prints 6 for ones(2,3):sum() through the host", function()
    local helper = require "helper"
    local out, code = helper.mtcnn([[-e 'local T=require"mtcnn".tensor; print(T.ones(2,3):sum())']])
    assert.are.equal(0, code)
    assert.are.equal(6, tonumber(out))
  end)

  it("builds tensors from nested tables and back", function()
    local t = T.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.same({2, 3}, t:size())
    assert.are.equal(6, t:get(2, 3))
    assert.are.equal(2, t:get(1, 2))
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, t:to_table())
    local v = T.tensor{0.5, -1.25}
    assert.are.same({0.5, -1.25}, v:to_table())
    local four = T.tensor{{{{1}, {2}}}}
    assert.are.same({1, 1, 2, 1}, four:size())
    assert.are.same({0}, T.tensor{}:size())
  end)

  it("rejects ragged and non-numeric tables with a message", function()
    assert.has_error(function() T.tensor{{1, 2}, {3}} end,
      "tensor: ragged table: 1 entries at depth 2 where 2 were expected")
    assert.has_error(function() T.tensor{1, "x"} end,
      "tensor: entry 2 at depth 1 is a string, not a number")
    assert.has_error(function() T.tensor{{{{{1}}}}} end, "tensor: nested deeper than 4 levels")
  end)

  it("counts with arange like numpy (exclusive end)", function()
    assert.are.same({0, 1, 2, 3}, T.arange(4):to_table())
    assert.are.same({2, 4, 6}, T.arange(2, 8, 2):to_table())
    assert.are.same({1, 0.5, 0, -0.5}, T.arange(1, -1, -0.5):to_table())
    assert.are.equal(0, T.arange(3, 3):numel())
    assert.has_error(function() T.arange(0, 1, 0) end)
  end)

  it("gets and sets elements with 1-based and negative indices", function()
    local t = T.zeros(2, 3)
    t:set(1, 2, 5)
    t:set(-1, -1, 9)
    assert.are.equal(5, t:get(1, 2))
    assert.are.equal(9, t:get(2, 3))
    assert.are.equal(9, t:get(-1, 3))
    assert.are.same({{0, 5, 0}, {0, 0, 9}}, t:to_table())
  end)

  it("indexes with t[i] like Torch7", function()
    local t = T.tensor{{1, 2}, {3, 4}}
    assert.are.same({3, 4}, t[2]:to_table())
    assert.are.equal(4, t[2][2])
    local v = T.zeros(3)
    v[2] = 7
    assert.are.equal(7, v[2])
    t[1] = 0 -- fills the row
    assert.are.same({{0, 0}, {3, 4}}, t:to_table())
    t[2] = T.tensor{8, 9}
    assert.are.same({{0, 0}, {8, 9}}, t:to_table())
    assert.are.equal(2, #t)
  end)

  it("reports shape, stride, device and contiguity", function()
    local t = T.zeros(2, 3, 4)
    assert.are.same({12, 4, 1}, t:stride())
    assert.are.equal(4, t:size(3))
    assert.are.equal(4, t:size(-1))
    assert.are.equal("cpu", t:device())
    assert.is_false(t:is_cuda())
    assert.is_true(t:is_contiguous())
    assert.is_true(T.is_tensor(t))
    assert.is_false(T.is_tensor({}))
    assert.are.equal("mtcnn.Tensor", t:type())
  end)

  it("names the function and the problem for bad arguments", function()
    assert.has_error(function() T.zeros(1, 2, 3, 4, 5) end,
      "zeros: 5 dimensions (at most 4 are supported)")
    assert.has_error(function() T.zeros(-1) end, "zeros: negative size -1")
    assert.has_error(function() T.zeros(2):get(3) end,
      "get: index 3 out of range 1..2 in dimension 1")
    assert.has_error(function() T.zeros(2, 2):get(1) end,
      "get: 1 indices for a 2-dimensional tensor")
    assert.has_error(function() T.zeros(2):size(2) end,
      "size: dimension 2 out of range for a 1-dimensional tensor")
    local ok, err = pcall(T.zeros(2).get, "x", 1)
    assert.is_false(ok)
    assert.matches("mtcnn.Tensor expected", err)
  end)

  it("refuses absurd sizes with an out-of-memory error, not a crash", function()
    local ok, err = pcall(T.zeros, 1e6, 1e6, 1e6, 1e6)
    assert.is_false(ok)
    assert.matches("too large", err)
    ok, err = pcall(T.zeros, 4e5, 4e5, 4e3)
    assert.is_false(ok)
    assert.matches("out of memory", err)
  end)
end)

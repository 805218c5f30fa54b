-- The seeded generator gives the same numbers on every machine.
local T = require("mtcnn").tensor

describe("random numbers", function()
  it("reproduces the PCG32 reference stream (seed 42, stream 54)", function()
    -- the first outputs of the pcg32 reference demo for this seed
    local expected = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e}
    local g = T.generator(42, 54)
    for i, e in ipairs(expected) do assert.are.equal(e, g:u32(), "output " .. i) end
  end)

  it("derives floats exactly from the integer stream", function()
    local g = T.generator(42, 54)
    local t = T.rand(3, g)
    -- uniform = (u32 >> 8) / 2^24, exact in float
    assert.are.equal((0xa15c02b7 >> 8) / 16777216, t:get(1))
    assert.are.equal((0x7b47f409 >> 8) / 16777216, t:get(2))
    assert.are.equal((0xba1d3330 >> 8) / 16777216, t:get(3))
  end)

  it("repeats a sequence after reseeding", function()
    T.manual_seed(123)
    local a = T.randn(4, 5)
    local b = T.rand(10)
    T.manual_seed(123)
    assert.is_true(a:equal(T.randn(4, 5)))
    assert.is_true(b:equal(T.rand(10)))
    local g1, g2 = T.generator(7), T.generator(7)
    assert.is_true(T.rand(100, g1):equal(T.rand(100, g2)))
    assert.is_false(T.rand(100, T.generator(7, 1)):equal(T.rand(100, T.generator(7, 2))))
    local c = g1:clone()
    assert.are.equal(g1:u32(), c:u32())
  end)

  it("draws uniform numbers in [a, b) with the right moments", function()
    local t = T.empty(100000):uniform_(-2, 3, T.generator(1))
    assert.is_true(t:min() >= -2)
    assert.is_true(t:max() < 3)
    assert.is_true(math.abs(t:mean() - 0.5) < 0.02)
    local var = ((t - 0.5) * (t - 0.5)):mean()
    assert.is_true(math.abs(var - 25 / 12) < 0.03)
  end)

  it("draws normal numbers with the right moments", function()
    local t = T.empty(100001):normal_(1.5, 2, T.generator(2))
    assert.is_true(math.abs(t:mean() - 1.5) < 0.03)
    local sd = math.sqrt(((t - t:mean()) * (t - t:mean())):mean())
    assert.is_true(math.abs(sd - 2) < 0.03)
    -- about 68.3% within one standard deviation
    local inside = 0
    for _, v in ipairs(t:narrow(1, 1, 20000):to_table()) do
      if math.abs(v - 1.5) < 2 then inside = inside + 1 end
    end
    assert.is_true(math.abs(inside / 20000 - 0.6827) < 0.015)
  end)

  it("draws unbiased integers in a closed range", function()
    local g = T.generator(3)
    local counts = {0, 0, 0, 0, 0, 0}
    for _ = 1, 60000 do
      local v = g:integer(1, 6)
      counts[v] = counts[v] + 1
    end
    for face = 1, 6 do assert.is_true(math.abs(counts[face] - 10000) < 400, "face " .. face) end
    assert.are.equal(5, g:integer(5, 5))
    assert.has_error(function() g:integer(2, 1) end)
  end)
end)

-- A generator's state can be read and set again (checkpoints of training runs restore every
-- random source from it), for seeded generators and for the default one.
local T = require("mtcnn").tensor

describe("generator state", function()
  it("continues a generator's sequence exactly from a saved state", function()
    local g = T.generator(42, 7)
    T.rand(13, g)
    local s = g:state()
    assert.are.equal("string", type(s))
    assert.is_truthy(s:match("^%x+$"))
    assert.are.equal(32, #s)
    local want = {g:u32(), g:integer(1, 1000), g:normal()}
    local after = g:state()
    assert.are_not.equal(s, after)
    -- a fresh generator with another seed and stream takes it over
    local h = T.generator(1, 1)
    assert.are.equal(h, h:set_state(s))
    assert.are.same(want, {h:u32(), h:integer(1, 1000), h:normal()})
    assert.are.equal(after, h:state())
    -- tensors drawn from it too
    g:set_state(s)
    h:set_state(s)
    assert.is_true(T.randn(50, g):equal(T.randn(50, h)))
  end)

  it("saves and restores the default generator", function()
    T.manual_seed(9)
    T.rand(5)
    local s = T.get_rng_state()
    local a = T.rand(20)
    T.manual_seed(1234)
    T.set_rng_state(s)
    assert.is_true(a:equal(T.rand(20)))
  end)

  it("rejects what is not a state", function()
    local g = T.generator(3)
    for _, bad in ipairs({"", "xyz", ("0"):rep(31), ("g"):rep(32), ("0"):rep(32)}) do
      local ok, err = pcall(g.set_state, g, bad)
      assert.is_false(ok)
      assert.is_truthy(err:find("not a generator state", 1, true), err)
    end
    assert.is_false(pcall(T.set_rng_state, 12))
    -- uppercase hex digits are not what state() writes
    assert.is_false(pcall(g.set_state, g, ("A"):rep(31) .. "1"))
  end)
end)

-- Ownership: the garbage collector, free() and <close> release tensor
-- memory; a freed tensor raises instead of crashing.
local T = require("mtcnn").tensor

local function live() return T.memory().cpu end

describe("tensor memory", function()
  it("releases a tensor with free() and makes it unusable", function()
    collectgarbage()
    local before = live()
    local t = T.zeros(1000, 1000)
    assert.is_true(live() >= before + 4e6)
    t:free()
    assert.is_true(live() < before + 4e6)
    assert.has_error(function() t:sum() end, "bad argument #1: the tensor was freed")
    t:free() -- twice is harmless
  end)

  it("keeps the buffer while a view lives, frees it with the last one", function()
    collectgarbage()
    local before = live()
    local t = T.zeros(1000, 1000)
    local v = t:narrow(1, 1, 10)
    t:free()
    assert.is_true(live() >= before + 4e6) -- the view still holds the buffer
    v:fill_(3)
    assert.are.equal(30000, v:sum())
    v:free()
    assert.is_true(live() < before + 4e6)
  end)

  it("frees on scope exit with <close>", function()
    collectgarbage()
    local before = live()
    do
      local t <close> = T.zeros(500, 500)
      assert.is_true(live() >= before + 1e6)
    end
    assert.is_true(live() < before + 1e6)
  end)

  it("lets the collector reclaim temporaries in a loop", function()
    collectgarbage()
    local before = live()
    local peak = 0
    for _ = 1, 200 do
      local t = T.ones(2048, 2048) -- 16 MiB each, 3.2 GiB in all
      t:mul_(2)
      if live() > peak then peak = live() end
    end
    collectgarbage()
    assert.is_true(peak < before + 1.2e9, ("peak %.0f MiB"):format((peak - before) / 2 ^ 20))
    assert.is_true(live() <= before + 1e6)
  end)
end)

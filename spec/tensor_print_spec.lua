-- tostring prints like Torch7: values, then "[mtcnn.Tensor of size ...]".
local T = require("mtcnn").tensor

describe("printing tensors", function()
  it("prints a vector as a column and a matrix as rows", function()
    assert.are.equal(" 1\n 2\n 3\n[mtcnn.Tensor of size 3]", tostring(T.tensor{1, 2, 3}))
    assert.are.equal("  1   2\n 30  -4\n[mtcnn.Tensor of size 2x2]",
      tostring(T.tensor{{1, 2}, {30, -4}}))
  end)

  it("uses one fixed-point format for fractional values", function()
    assert.are.equal("  0.5000  -1.2500\n[mtcnn.Tensor of size 1x2]", tostring(T.tensor{{0.5, -1.25}}))
  end)

  it("switches to scientific notation for wide ranges", function()
    local s = tostring(T.tensor{1e-6, 2e6})
    assert.matches("1.0000e%-06", s)
    assert.matches("2.0000e%+06", s)
  end)

  it("prints 3-d and 4-d tensors as matrices headed by their index", function()
    local s = tostring(T.arange(8):view(2, 2, 2))
    assert.are.equal("(1,.,.) = \n 0  1\n 2  3\n\n(2,.,.) = \n 4  5\n 6  7\n\n" ..
      "[mtcnn.Tensor of size 2x2x2]", s)
    local f = tostring(T.zeros(1, 2, 1, 1))
    assert.matches("%(1,2,.,.%) = ", f)
    assert.matches("%[mtcnn.Tensor of size 1x2x1x1%]$", f)
  end)

  it("abbreviates large tensors with ellipses", function()
    local s = tostring(T.arange(2000))
    local lines = {}
    for line in s:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(8, #lines) -- 3 values, "...", 3 values, footer
    assert.are.equal("    0", lines[1])
    assert.are.equal(" ...", lines[4])
    assert.are.equal(" 1999", lines[7])
    assert.are.equal("[mtcnn.Tensor of size 2000]", lines[8])
    local m = tostring(T.zeros(100, 100))
    assert.matches("%.%.%.", m)
    assert.is_true(#m < 400)
  end)

  it("prints empty tensors, NaN and infinities", function()
    assert.are.equal("[mtcnn.Tensor of size 0x4]", tostring(T.zeros(0, 4)))
    local s = tostring(T.tensor{0 / 0, 1 / 0, -1 / 0, 1.5})
    assert.matches("nan", s)
    assert.matches(" inf", s)
    assert.matches("%-inf", s)
  end)
end)

-- Saving and loading tensors: round trips, atomic writes, and every way a
-- file can be bad.
local T = require("mtcnn").tensor
local helper = require "helper"

describe("tensor files", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  it("round-trips shapes from 1 to 4 dimensions and empty tensors", function()
    local cases = {T.randn(7), T.randn(3, 5), T.randn(2, 3, 4), T.randn(2, 3, 4, 5), T.zeros(0, 3)}
    for k, t in ipairs(cases) do
      local path = dir .. "/t" .. k .. ".mtt"
      assert.is_true(t:save(path))
      local u = assert(T.load(path))
      assert.are.same(t:size(), u:size())
      assert.is_true(t:equal(u))
    end
  end)

  it("saves strided views by their values", function()
    local t = T.arange(12):view(3, 4):t()
    local path = dir .. "/view.mtt"
    assert(t:save(path))
    assert.are.same(t:to_table(), T.load(path):to_table())
  end)

  it("writes through a temporary file and leaves none behind", function()
    local path = dir .. "/x.mtt"
    assert(T.ones(4):save(path))
    assert(T.zeros(8):save(path)) -- replaces the old file
    assert.are.same({8}, T.load(path):size())
    local listing = helper.run("ls -A " .. helper.q(dir))
    assert.are.equal("x.mtt\n", listing)
  end)

  it("returns nil and a message naming the file when it cannot write", function()
    local ok, err = T.ones(2):save(dir .. "/missing/folder/x.mtt")
    assert.is_nil(ok)
    assert.matches("missing/folder/x.mtt: cannot create file", err, 1, true)
  end)

  it("returns nil and a message for missing, truncated and corrupted files", function()
    local path = dir .. "/good.mtt"
    assert(T.arange(100):save(path))
    local bytes = helper.read_file(path)
    assert.are.equal(64 + 400, #bytes)

    local t, err = T.load(dir .. "/absent.mtt")
    assert.is_nil(t)
    assert.matches("absent.mtt: cannot open", err, 1, true)

    local function load_bytes(name, data)
      local p = dir .. "/" .. name
      helper.write_file(p, data)
      return T.load(p)
    end

    -- truncated at several points: inside the header and inside the values
    for _, cut in ipairs({0, 10, 63, 64, 200, 463}) do
      t, err = load_bytes("cut" .. cut .. ".mtt", bytes:sub(1, cut))
      assert.is_nil(t, "cut at " .. cut)
      assert.matches("cut" .. cut .. ".mtt: truncated file", err, 1, true)
    end

    t, err = load_bytes("magic.mtt", "XXXXXXXX" .. bytes:sub(9))
    assert.is_nil(t)
    assert.matches("not an mtcnn tensor file", err, 1, true)

    t, err = load_bytes("version.mtt", bytes:sub(1, 8) .. string.pack("<I4", 99) .. bytes:sub(13))
    assert.is_nil(t)
    assert.matches("tensor format version 99, this build reads version 1", err, 1, true)

    -- a flipped bit in the shape is caught by the header checksum
    t, err = load_bytes("header.mtt", bytes:sub(1, 16) .. string.char(bytes:byte(17) ~ 1) .. bytes:sub(18))
    assert.is_nil(t)
    assert.matches("corrupted tensor header", err, 1, true)

    -- a flipped bit in the values is caught by the data checksum
    t, err = load_bytes("data.mtt", bytes:sub(1, 300) .. string.char(bytes:byte(301) ~ 0x10) .. bytes:sub(302))
    assert.is_nil(t)
    assert.matches("corrupted tensor values", err, 1, true)

    t, err = load_bytes("extra.mtt", bytes .. "!")
    assert.is_nil(t)
    assert.matches("unexpected bytes after the tensor values", err, 1, true)

    t, err = load_bytes("random.mtt", string.rep("\x5a\xa5", 300))
    assert.is_nil(t)
    assert.matches("not an mtcnn tensor file", err, 1, true)
  end)
end)

describe("raw float32 bytes", function()
  it("round-trips through to_bytes and from_bytes in row-major order", function()
    local t = T.arange(6):view(2, 3):t()
    local bytes = t:to_bytes()
    assert.are.equal(24, #bytes)
    assert.are.equal(string.pack("<ffffff", 0, 3, 1, 4, 2, 5), bytes)
    assert.is_true(T.from_bytes(bytes, 3, 2):equal(t))
    assert.is_true(T.from_bytes(bytes, {6}):equal(T.tensor{0, 3, 1, 4, 2, 5}))
    assert.has_error(function() T.from_bytes("abc", 1) end, "from_bytes: 3 bytes do not hold 1 floats")
  end)
end)

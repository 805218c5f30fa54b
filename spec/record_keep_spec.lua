-- record.writer{keep = n}: an existing file rolled back to its first n committed samples (how a
-- resumed generation undoes the samples committed after its last saved state).

local helper = require "helper"
local F = require "record_fixtures"
local mtcnn = require "mtcnn"

local record = mtcnn.record

local LABELS = {1, 0, -1, -2, 0, 0}

-- Class counts of the first n fixture samples with the LABELS pattern.
local function expected_counts(n)
  local c = {positive = 0, negative = 0, part = 0, landmark = 0}
  for i = 1, n do
    local name = record.class_name(LABELS[(i - 1) % #LABELS + 1])
    c[name] = c[name] + 1
  end
  return c
end

-- The file holds exactly fixture samples 1..n, verifies and counts right.
local function check_prefix(path, n)
  local f = assert(record.open(path, {size = 12}))
  assert.are.equal(n, f.count)
  assert.are.equal(0, f:verify().nbad)
  assert.are.same(expected_counts(n), f:counts())
  for i = 1, n do
    local s = assert(f:get(i))
    assert.are.equal("img" .. i .. ".jpg", s.source)
    assert.are.equal(LABELS[(i - 1) % #LABELS + 1], s.label)
  end
  f:close()
  -- nothing past the commit: the file ends where sample n ends (its block's trailer if full)
  local size = #helper.read_file(path)
  local block = 4
  local R = record.record_bytes(12)
  local full, rem = n // block, n % block
  assert.are.equal(4096 + full * (block * R + 8) + rem * R, size)
end

describe("record.writer{keep = n}", function()
  local dir, path
  before_each(function()
    dir = helper.tmpdir()
    path = dir .. "/a.rec"
  end)
  after_each(function() helper.rmdir(dir) end)

  it("keeps every prefix of a file: inside a block, at a block's end, all and none", function()
    for _, keep in ipairs({0, 1, 3, 4, 5, 8, 9, 13, 21, 22}) do
      F.write(path, 22, LABELS, {block = 4, commit_every = 5})
      local w = assert(record.writer(path, {size = 12, keep = keep}))
      assert.are.equal(keep, w:committed())
      assert.are.equal(keep, w:count())
      assert.are.same(expected_counts(keep), w:counts())
      assert(w:close())
      check_prefix(path, keep)
    end
  end)

  it("appends after the kept samples as after any commit", function()
    F.write(path, 17, LABELS, {block = 4})
    local w = assert(record.writer(path, {size = 12, keep = 6}))
    for i = 7, 30 do assert(w:add(F.sample(i, 12, LABELS[(i - 1) % #LABELS + 1]))) end
    assert(w:close())
    check_prefix(path, 30)
    -- rolled back twice in a row, then reopened plainly
    assert(assert(record.writer(path, {keep = 29})):close())
    assert(assert(record.writer(path, {keep = 10})):close())
    assert(assert(record.writer(path)):close())
    check_prefix(path, 10)
  end)

  it("drops an uncommitted tail too, and commits the rollback before cutting", function()
    F.write(path, 12, LABELS, {block = 4})
    -- a writer killed before its commit leaves bytes past the committed end
    local f = assert(io.open(path, "ab"))
    f:write(("\7"):rep(3 * record.record_bytes(12)))
    f:close()
    local w2 = assert(record.writer(path, {keep = 7}))
    assert(w2:close())
    check_prefix(path, 7)
    -- the header now names a newer commit than the file's first one: a plain reopen keeps 7
    local info = assert(record.open(path)):info()
    assert.is_true(info.sequence > 2)
  end)

  it("refuses to keep more than the file commits, a damaged block, and bad options", function()
    F.write(path, 10, LABELS, {block = 4})
    local w, err = record.writer(path, {keep = 11})
    assert.is_nil(w)
    assert.matches("cannot keep 11 samples: the file commits only 10", err, 1, true)
    -- damage sample 6 (block 1, samples 4..7): keeping 5 must refuse to re-seal that block
    F.poke(path, F.offset(6, 12, 4) + 3, "\255")
    w, err = record.writer(path, {keep = 5})
    assert.is_nil(w)
    assert.matches("block 1 %(samples 4%.%.7%) fails its checksum: cannot roll back", err)
    -- keeping whole blocks before it does not need that block
    assert(assert(record.writer(path, {keep = 4})):close())
    check_prefix(path, 4)
    assert.has_error(function() record.writer(path, {keep = -1}) end)
    assert.has_error(function() record.writer(path, {keep = 1, replace = true}) end)
    w, err = record.writer(dir .. "/none.rec", {size = 12, keep = 3})
    assert.is_nil(w)
    assert.matches("cannot keep 3 samples: the file does not exist", err)
    local fresh = assert(record.writer(dir .. "/new.rec", {size = 12, keep = 0}))
    assert(fresh:close())
    assert.are.equal(0, assert(record.open(dir .. "/new.rec")).count)
  end)
end)

-- Record files: round trips, appending and commits, replace mode, and every kind of bad input
-- (truncation, checksums, headers, versions, sizes) with messages that name the file and sample.

local helper = require "helper"
local F = require "record_fixtures"
local mtcnn = require "mtcnn"

local record, sample, image, T = mtcnn.record, mtcnn.sample, mtcnn.image, mtcnn.tensor

describe("record files", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  it("round-trips every field of every sample", function()
    local path = F.write(dir .. "/a.rec", 11, {1, 0, -1, -2}, {size = 24, block = 4})
    local f = assert(record.open(path, {size = 24}))
    assert.are.equal(11, f.count)
    assert.are.equal(24, f.size)
    local info = f:info()
    assert.are.same({positive = 3, negative = 3, part = 3, landmark = 2}, info.counts)
    assert.are.equal(1, info.version)
    assert.are.equal(3 * 24 * 24 + 148, info.record_bytes)
    assert.are.equal(3, info.blocks)
    for i = 1, 11 do
      local s = assert(f:get(i))
      local want = F.sample(i, 24, ({1, 0, -1, -2})[(i - 1) % 4 + 1])
      assert.are.equal(i, s.index)
      assert.are.equal(want.label, s.label)
      assert.is_true(s.image == want.image, "pixels of sample " .. i)
      for k = 1, 4 do helper.near(s.target[k], want.target[k], 1e-7) end
      for k = 1, 10 do helper.near(s.landmarks[k], want.landmarks[k], 1e-7) end
      assert.are.same(want.box, s.box)
      helper.near(s.iou, want.iou, 1e-7)
      assert.are.equal(want.face, s.face)
      assert.are.equal(want.source, s.source)
    end
    local labels = assert(f:labels())
    assert.are.same({1, 0, -1, -2, 1, 0, -1, -2, 1, 0, -1}, labels:to_table())
    f:close()
  end)

  it("keeps the end of a long source path", function()
    local path = dir .. "/long.rec"
    local w = assert(record.writer(path, {size = 12}))
    local long = ("d/"):rep(40) .. "the_file_name.jpg"
    assert(w:add{image = image.new(12, 12), label = 0, source = long})
    assert(w:close())
    local s = assert(assert(record.open(path)):get(1))
    assert.are.equal(64, #s.source)
    assert.are.equal("...", s.source:sub(1, 3))
    assert.are.equal(long:sub(-61), s.source:sub(4))
  end)

  it("stores a whole mtcnn.sample result", function()
    local img = image.new(200, 160, {90, 120, 150})
    img:draw_rect(60, 40, 119, 109, {color = {250, 200, 10}, fill = true})
    local r = sample.detection(img, {{60, 40, 119, 109}}, {size = 12, seed = 3})
    assert.is_true(r.count > 50)
    local path = dir .. "/det.rec"
    local w = assert(record.writer(path, {size = 12}))
    assert(w:add_samples(r, "pic.jpg"))
    assert(w:close())
    local f = assert(record.open(path))
    assert.are.equal(r.count, f.count)
    assert.are.equal(r.counts.positive, f:counts().positive)
    assert.are.equal(r.counts.negative, f:counts().negative)
    assert.are.equal(r.counts.part, f:counts().part)
    local tiles = sample.images(r)
    for i = 1, r.count, 7 do
      local s = assert(f:get(i))
      assert.is_true(s.image == tiles[i])
      assert.are.equal(r.labels[i], s.label)
      for k = 1, 4 do
        helper.near(s.target[k], r.targets[i][k], 0)
        helper.near(s.box[k], r.boxes[i][k], 0)
      end
      assert.are.equal(r.faces[i], s.face)
      assert.are.equal("pic.jpg", s.source)
    end
    -- landmark samples keep their planar landmarks
    local l = sample.landmarks(img, {60, 40, 119, 109},
      {75, 105, 90, 78, 100, 60, 58, 80, 95, 96}, {size = 12, seed = 1})
    local w2 = assert(record.writer(dir .. "/lmk.rec", {size = 12}))
    assert(w2:add_samples(l, "pic.jpg"))
    assert(w2:close())
    local s = assert(assert(record.open(dir .. "/lmk.rec")):get(1))
    assert.are.equal(-2, s.label)
    for k = 1, 10 do helper.near(s.landmarks[k], l.landmarks[1][k], 0) end
  end)

  it("appends to an existing file and shows only committed samples", function()
    local path = F.write(dir .. "/a.rec", 6, nil, {block = 4})
    local w = assert(record.writer(path, {size = 12}))
    assert.are.equal(6, w:count())
    for i = 7, 9 do assert(w:add(F.sample(i, 12, 1))) end
    local r = assert(record.open(path))
    assert.are.equal(6, r.count) -- not yet committed
    assert(w:commit())
    assert.are.equal(9, assert(record.open(path)).count)
    assert.are.equal(6, r.count) -- an open reader keeps what it mapped
    assert(w:add(F.sample(10, 12, 1)))
    w:abort() -- the uncommitted sample is dropped
    local f = assert(record.open(path))
    assert.are.equal(9, f.count)
    assert.are.same({positive = 5, negative = 2, part = 1, landmark = 1}, f:counts())
    assert.are.equal(0, f:verify().nbad)
    -- the file ends exactly at the committed end
    assert.are.equal(F.offset(10, 12, 4), F.size_of(path))
    for i = 1, 9 do assert.are.equal("img" .. i .. ".jpg", assert(f:get(i)).source) end
  end)

  it("commits when a to-be-closed writer leaves its scope, and discards on an error", function()
    local path = dir .. "/tbc.rec"
    do
      local w <close> = assert(record.writer(path, {size = 12}))
      assert(w:add(F.sample(1, 12, 0)))
    end
    assert.are.equal(1, assert(record.open(path)).count)
    local ok = pcall(function()
      local w <close> = assert(record.writer(path, {size = 12}))
      assert(w:add(F.sample(2, 12, 0)))
      error("boom")
    end)
    assert.is_false(ok)
    assert.are.equal(1, assert(record.open(path)).count)
  end)

  it("a dropped writer keeps the last commit", function()
    local path = dir .. "/gc.rec"
    local w = assert(record.writer(path, {size = 12}))
    for i = 1, 5 do assert(w:add(F.sample(i, 12, 0))) end
    assert(w:commit())
    for i = 6, 8 do assert(w:add(F.sample(i, 12, 0))) end
    w = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    local f = assert(record.open(path))
    assert.are.equal(5, f.count)
    assert.are.equal(0, f:verify().nbad)
  end)

  it("replaces a file only when the new one is complete", function()
    local path = F.write(dir .. "/r.rec", 5)
    local w = assert(record.writer(path, {size = 12, replace = true}))
    assert.are.equal(0, w:count())
    assert(w:add(F.sample(100, 12, 1)))
    assert(w:commit())
    assert.are.equal(5, assert(record.open(path)).count) -- the old file is still there
    w:abort()
    assert.are.equal(5, assert(record.open(path)).count)
    local _, _, _ = helper.run("ls " .. helper.q(dir))
    assert.are.equal("r.rec\n", (helper.run("ls " .. helper.q(dir)))) -- no temporary left
    w = assert(record.writer(path, {size = 12, replace = true}))
    assert(w:add(F.sample(100, 12, 1)))
    assert(w:close())
    local f = assert(record.open(path))
    assert.are.equal(1, f.count)
    assert.are.equal("img100.jpg", assert(f:get(1)).source)
  end)

  it("refuses a second writer on the same file", function()
    local path = dir .. "/lock.rec"
    local w = assert(record.writer(path, {size = 12}))
    local w2, err = record.writer(path, {size = 12})
    assert.is_nil(w2)
    assert.matches("lock.rec: another writer has the file open", err, 1, true)
    w:close()
    assert(record.writer(path, {size = 12})):close()
  end)

  it("checks sizes, labels and arguments", function()
    local path = F.write(dir .. "/s.rec", 3)
    local f, err = record.open(path, {size = 24})
    assert.is_nil(f)
    assert.matches("s.rec: holds 12x12 samples, expected 24x24", err, 1, true)
    local w
    w, err = record.writer(path, {size = 48})
    assert.is_nil(w)
    assert.matches("s.rec: holds 12x12 samples, cannot append 48x48 ones", err, 1, true)
    assert.has_error(function() record.writer(dir .. "/new.rec") end)
    assert.is_nil(io.open(dir .. "/new.rec"))
    w = assert(record.writer(path, {size = 12}))
    assert.has_error(function() w:add{image = image.new(12, 12), label = 3} end,
      "record: label 3 is not one of 1, 0, -1, -2")
    assert.has_error(function() w:add{image = image.new(24, 24), label = 1} end)
    assert.has_error(function() w:add{image = image.new(12, 12), label = 1, target = {1, 2}} end,
      "record: sample field 'target' needs 4 numbers")
    w:close()
    f = assert(record.open(path))
    assert.has_error(function() f:get(4) end)
    assert.has_error(function() f:get(0) end)
    f:close()
    assert.has_error(function() f:get(1) end, "bad argument #1: the record file was closed")
  end)

  it("names the file and the sample of a truncated file", function()
    local path = F.write(dir .. "/t.rec", 10, nil, {block = 4})
    F.truncate(path, F.offset(7, 12, 4) + 100) -- inside sample 7 (0-based 6)
    local f, err = record.open(path)
    assert.is_nil(f)
    assert.matches("t.rec: truncated file: the header commits 10 samples but the file ends "
      .. "inside sample 6 (block 1)", err, 1, true)
    F.truncate(path, F.offset(5, 12, 4) - 3) -- inside block 0's checksum
    _, err = record.open(path)
    assert.matches("ends inside the checksum of block 0 (samples 0..3)", err, 1, true)
    F.truncate(path, 1000)
    _, err = record.open(path)
    assert.matches("t.rec: truncated file: the header region needs 4096 bytes", err, 1, true)
    F.truncate(path, 0)
    _, err = record.open(path)
    assert.matches("t.rec: not a record file", err, 1, true)
    _, err = record.open(dir .. "/missing.rec")
    assert.matches("missing.rec: cannot open", err, 1, true)
  end)

  it("finds damaged blocks: get names the sample, verify lists every bad block", function()
    local path = F.write(dir .. "/c.rec", 14, nil, {block = 4})
    -- damage sample 6 (block 1) and sample 14 (the partial block 3, checked against the header)
    F.poke(path, F.offset(6, 12, 4) + 50, "\1\2\3")
    F.poke(path, F.offset(14, 12, 4) + 3 * 144 + 8, "\9")
    local f = assert(record.open(path))
    assert(f:get(4))
    local s, err = f:get(6)
    assert.is_nil(s)
    assert.matches("c.rec: sample 5 lies in block 1 (samples 4..7), which fails its checksum",
      err, 1, true)
    _, err = f:image(8)
    assert.matches("sample 7 lies in block 1", err, 1, true)
    _, err = f:get(14)
    assert.matches("sample 13 lies in block 3 (samples 12..13)", err, 1, true)
    _, err = f:labels()
    assert.matches("c.rec: sample 4 lies in block 1", err, 1, true)
    local v = f:verify()
    assert.are.equal(4, v.blocks)
    assert.are.equal(2, v.nbad)
    assert.are.same({{block = 1, first = 5, last = 8}, {block = 3, first = 13, last = 14}}, v.bad)
    -- a block's trailer names its index: a block copied over another fails too
    local path2 = F.write(dir .. "/m.rec", 8, {0}, {block = 4})
    local block0 = F.peek(path2, F.offset(1, 12, 4), 4 * record.record_bytes(12) + 8)
    F.poke(path2, F.offset(5, 12, 4), block0)
    local v2 = assert(record.open(path2)):verify()
    assert.are.same({{block = 1, first = 5, last = 8}}, v2.bad)
  end)

  it("falls back to the previous commit when the newer header copy is torn, and keeps what follows it", function()
    local path = dir .. "/h.rec"
    local w = assert(record.writer(path, {size = 12, block = 4}))
    for i = 1, 3 do assert(w:add(F.sample(i, 12, 0))) end
    assert(w:commit()) -- sequence 2 in copy 1
    for i = 4, 6 do assert(w:add(F.sample(i, 12, 0))) end
    assert(w:commit()) -- sequence 3 in copy 0
    w:abort()
    assert.are.equal(6, assert(record.open(path)).count)
    F.poke(path, 40, "\99") -- copy 0's count: its checksum fails
    local f = assert(record.open(path))
    assert.are.equal(3, f.count)
    local v = f:verify()
    assert.are.equal(0, v.nbad)
    -- verify names the damaged copy and the bytes after the surviving commit
    assert.are.equal(1, v.damaged_header)
    assert.is_true(v.extra_bytes > 0)
    f:close()
    -- a writer does not cut samples the damaged copy may have committed ...
    local size_before = #helper.read_file(path)
    local w2, werr = record.writer(path, {size = 12})
    assert.is_nil(w2)
    assert.matches("header copy 0 is damaged", werr, 1, true)
    assert.are.equal(size_before, #helper.read_file(path))
    -- ... unless told how many to keep: then it continues from that commit
    w = assert(record.writer(path, {size = 12, keep = 3}))
    assert.are.equal(3, w:count())
    assert(w:add(F.sample(4, 12, 0)))
    assert(w:close())
    f = assert(record.open(path))
    assert.are.equal(4, f.count)
    assert.are.equal(0, f:verify().nbad)
    -- both copies broken
    F.poke(path, 40, "\99")
    F.poke(path, 512 + 40, "\99")
    local _, err = record.open(path)
    assert.matches("h.rec: both header copies fail their checksum", err, 1, true)
  end)

  it("rejects other magics and versions", function()
    local path = F.write(dir .. "/v.rec", 2)
    F.poke(path, 8, "\2") -- version 2 in copy 0
    F.poke(path, 512 + 8, "\2")
    local _, err = record.open(path)
    assert.matches("v.rec: record format version 2 is not supported (this build reads version 1)",
      err, 1, true)
    F.poke(path, 0, "XX")
    F.poke(path, 512, "XX")
    _, err = record.open(path)
    assert.matches("v.rec: not a record file (no MTCNNREC magic)", err, 1, true)
  end)

  it("refuses to append to a file whose last block is damaged", function()
    local path = F.write(dir .. "/d.rec", 6, nil, {block = 4})
    F.poke(path, F.offset(6, 12, 4) + 10, "\0\0")
    local w, err = record.writer(path, {size = 12})
    assert.is_nil(w)
    assert.matches("d.rec: the last block (samples 4..5) fails its checksum", err, 1, true)
  end)

  it("opens empty files and large block sizes", function()
    local path = dir .. "/e.rec"
    assert(assert(record.writer(path, {size = 48, block = 1000})):close())
    local f = assert(record.open(path))
    assert.are.equal(0, f.count)
    assert.are.equal(0, f:verify().blocks)
    assert.are.equal(0, f:labels():numel())
    local g = T.generator(1)
    local w = assert(record.writer(path, {size = 48}))
    local img = image.from_tensor(T.rand(3, 48, 48, g))
    for _ = 1, 1001 do assert(w:add{image = img, label = -1}) end
    assert(w:close())
    f = assert(record.open(path))
    assert.are.equal(1001, f.count)
    assert.are.equal(2, f:verify().blocks)
    assert.is_true(assert(f:get(1001)).image == img)
  end)
end)

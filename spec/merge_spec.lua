-- Merging sample files into a net's training set: ratios, sampling without replacement,
-- shuffling from a seed, per-class outputs, short classes, mixed inputs, atomic outputs.

local helper = require "helper"
local F = require "record_fixtures"
local mtcnn = require "mtcnn"

local record = mtcnn.record
local merge = require "mtcnn.record.merge"

-- source names of every sample of a file, in order
local function sources(path)
  local f = assert(record.open(path))
  local out = {}
  for i = 1, f.count do out[i] = assert(f:get(i)).source end
  f:close()
  return out
end

describe("record.merge", function()
  local dir
  local pos, part, neg, lmk
  before_each(function()
    dir = helper.tmpdir()
    pos = F.write(dir .. "/pos.rec", 40, {1}, {tag = "pos"})
    part = F.write(dir .. "/part.rec", 50, {-1}, {tag = "part"})
    neg = F.write(dir .. "/neg.rec", 130, {0}, {tag = "neg"})
    lmk = F.write(dir .. "/lmk.rec", 17, {-2}, {tag = "lmk"})
  end)
  after_each(function() helper.rmdir(dir) end)

  it("takes base x ratio of each class without replacement and every landmark (PNet)", function()
    local out = dir .. "/train.rec"
    local r = assert(merge.run{net = "pnet", inputs = {pos, part, neg, lmk}, output = out,
                               base = 30, seed = 5})
    assert.are.same({positive = 30, part = 30, negative = 90, landmark = 17}, r.taken)
    assert.are.same({positive = 40, part = 50, negative = 130, landmark = 17}, r.available)
    assert.are.same({}, r.notes)
    local f = assert(record.open(out, {size = 12}))
    assert.are.equal(167, f.count)
    assert.are.same({positive = 30, part = 30, negative = 90, landmark = 17}, f:counts())
    assert.are.equal(0, f:verify().nbad)
    -- no sample twice, every one a real input sample with its label and pixels
    local seen = {}
    for i = 1, f.count do
      local s = assert(f:get(i))
      assert.is_nil(seen[s.source], "duplicate " .. s.source)
      seen[s.source] = true
      local tag, k = s.source:match("^(%a+)(%d+)%.jpg$")
      local label = ({pos = 1, part = -1, neg = 0, lmk = -2})[tag]
      assert.are.equal(label, s.label)
      assert.is_true(s.image == F.sample(tonumber(k), 12, label).image)
    end
    -- shuffled: the classes are interleaved, not in blocks
    local first = sources(out)
    local tags = {}
    for i = 1, 20 do tags[first[i]:match("^%a+")] = true end
    assert.is_true(tags.pos and tags.neg and (tags.part or tags.lmk) and true or false)
    -- same seed, same file; another seed, another order
    local out2 = dir .. "/train2.rec"
    assert(merge.run{net = "pnet", inputs = {pos, part, neg, lmk}, output = out2, base = 30, seed = 5})
    assert.are.same(first, sources(out2))
    assert(merge.run{net = "pnet", inputs = {pos, part, neg, lmk}, output = out2, base = 30, seed = 6})
    assert.are_not.same(first, sources(out2))
  end)

  it("takes a short class whole and says so, or fails with strict", function()
    local out = dir .. "/train.rec"
    local r = assert(merge.run{net = "pnet", inputs = {pos, part, neg, lmk}, output = out, base = 45})
    assert.are.same({positive = 40, part = 45, negative = 130, landmark = 17}, r.taken)
    assert.are.equal(2, #r.notes)
    assert.matches("positive: 45 asked, only 40 in the inputs (sampling is without replacement); "
      .. "taking all 40", r.notes[1], 1, true)
    assert.matches("negative: 135 asked, only 130", r.notes[2], 1, true)
    assert.are.equal(232, assert(record.open(out)).count)
    local before = helper.read_file(out)
    local ok, err = merge.run{net = "pnet", inputs = {pos, part, neg, lmk}, output = out, base = 45,
                              strict = true}
    assert.is_nil(ok)
    assert.matches("merge: positive: 45 asked, only 40 in the inputs", err, 1, true)
    assert.are.equal(before, helper.read_file(out)) -- the old output is untouched
  end)

  it("accepts explicit counts and ratios", function()
    local out = dir .. "/t.rec"
    local r = assert(merge.run{net = "pnet", inputs = {pos, part, neg, lmk}, output = out,
      counts = {positive = 3, part = 0, negative = 7, landmark = 2}})
    assert.are.same({positive = 3, part = 0, negative = 7, landmark = 2}, r.taken)
    r = assert(merge.run{net = "pnet", inputs = {pos, part, neg, lmk}, output = out, base = 10,
      ratio = {positive = 2, part = 1, negative = 1}, landmark = 5})
    assert.are.same({positive = 20, part = 10, negative = 10, landmark = 5}, r.taken)
    assert.are.same({positive = 20, part = 10, negative = 10, landmark = 5}, assert(record.open(out)):counts())
    assert.has_error(function()
      merge.run{net = "pnet", inputs = {pos}, output = out, counts = {positive = -1}}
    end)
  end)

  it("writes one shuffled file per class for RNet and ONet", function()
    local mixed = F.write(dir .. "/mixed.rec", 21, {1, 0, -1, -2, 0}, {tag = "mix"})
    local out = dir .. "/rnet"
    local r = assert(merge.run{net = "rnet", size = 12, inputs = {pos, mixed, neg}, output = out})
    assert.are.equal(4, #r.outputs)
    local want = {positive = 40 + 5, part = 4, negative = 130 + 8, landmark = 4}
    for _, o in ipairs(r.outputs) do
      local f = assert(record.open(o.path))
      assert.are.equal(out .. "/" .. o.class .. ".rec", o.path)
      assert.are.equal(want[o.class], f.count)
      assert.are.equal(f.count, f:counts()[o.class])
      -- every input sample of the class exactly once
      local seen, n = {}, 0
      for i = 1, f.count do
        local s = assert(f:get(i))
        assert.are.equal(record.labels[o.class], s.label)
        assert.is_nil(seen[s.source])
        seen[s.source] = true
        n = n + 1
      end
      assert.are.equal(want[o.class], n)
      f:close()
    end
    -- the positives are shuffled across the two inputs (unshuffled, pos.rec's 40 come first)
    local order = sources(out .. "/positive.rec")
    local mixed_early = 0
    for i = 1, 40 do if order[i]:match("^mix") then mixed_early = mixed_early + 1 end end
    assert.is_true(mixed_early > 0)
  end)

  it("reports missing or damaged inputs and bad sizes", function()
    local out = dir .. "/t.rec"
    local ok, err = merge.run{net = "pnet", inputs = {pos, dir .. "/nope.rec"}, output = out}
    assert.is_nil(ok)
    assert.matches("nope.rec: cannot open", err, 1, true)
    ok, err = merge.run{net = "rnet", inputs = {pos}, output = dir .. "/r"}
    assert.is_nil(ok)
    assert.matches("pos.rec: holds 12x12 samples, expected 24x24", err, 1, true)
    -- a damaged sample is found when it is copied
    F.poke(neg, F.offset(9, 12, 4) + 5, "\7\7")
    ok, err = merge.run{net = "pnet", inputs = {pos, part, neg, lmk}, output = out, base = 40}
    assert.is_nil(ok)
    assert.matches("neg.rec: sample %d+ lies in block 2 %(samples 8..11%)", err)
    assert.is_nil(io.open(out)) -- nothing half-written
    ok, err = merge.run{net = "pnet", inputs = {pos, neg, pos}, output = out}
    assert.is_nil(ok)
    assert.matches("pos.rec is given twice", err, 1, true)
    ok, err = merge.run{net = "pnet", inputs = {pos}, output = pos}
    assert.is_nil(ok)
    assert.matches("both an input and an output", err, 1, true)
  end)
end)

-- The record tools: records.lua info / verify / show, merge_records.lua, bench.lua loader.

local helper = require "helper"
local F = require "record_fixtures"
local mtcnn = require "mtcnn"

local json, record, image = mtcnn.json, mtcnn.record, mtcnn.image

local function mt(args)
  return helper.mtcnn(args)
end

describe("records.lua", function()
  local dir, path
  before_each(function()
    dir = helper.tmpdir()
    path = F.write(dir .. "/a.rec", 22, {1, 0, 0, -1, -2}, {block = 4})
  end)
  after_each(function() helper.rmdir(dir) end)

  it("info prints the header and the samples per label", function()
    local out, code = mt("scripts/records.lua info " .. helper.q(path))
    assert.are.equal(0, code)
    assert.matches("a.rec: record file version 1, 12x12 samples, 22 committed", out, 1, true)
    assert.matches("positive +5 +%(label +1, +22.7%%%)", out)
    assert.matches("negative +9 ", out)
    assert.matches("580 bytes per sample, 4 samples per block, 6 blocks", out, 1, true)
    out, code = mt("scripts/records.lua info --json " .. helper.q(path))
    assert.are.equal(0, code)
    local j = assert(json.decode(out))
    assert.are.equal(22, j.count)
    assert.are.equal(12, j.size)
    assert.are.same({positive = 5, negative = 9, part = 4, landmark = 4}, j.counts)
  end)

  it("verify checks every block and lists each bad one", function()
    local out, code = mt("scripts/records.lua verify " .. helper.q(path))
    assert.are.equal(0, code)
    assert.matches("a.rec: 22 samples in 6 blocks: OK", out, 1, true)
    F.poke(path, F.offset(2, 12, 4) + 7, "\0")
    F.poke(path, F.offset(15, 12, 4) + 7, "\1\1")
    F.poke(path, F.offset(22, 12, 4) + 440, "\1")
    out, code = mt("scripts/records.lua verify " .. helper.q(path))
    assert.are.equal(1, code)
    assert.matches("block 0 (samples 1..4) fails its checksum", out, 1, true)
    assert.matches("block 3 (samples 13..16) fails its checksum", out, 1, true)
    assert.matches("block 5 (samples 21..22) fails its checksum", out, 1, true)
    assert.matches("22 samples in 6 blocks: 3 bad blocks", out, 1, true)
    out, code = mt("scripts/records.lua verify --json " .. helper.q(path))
    assert.are.equal(1, code)
    local j = assert(json.decode(out))
    assert.is_false(j.ok)
    assert.are.equal(3, #j.bad_blocks)
    -- a file that does not open: the reason, naming the file
    F.truncate(path, 5000)
    local _, err
    out, code, err = mt("scripts/records.lua verify " .. helper.q(path))
    assert.are.equal(1, code)
    assert.matches("a.rec: truncated file", err, 1, true)
  end)

  it("show writes a contact sheet with boxes and landmarks", function()
    local png = dir .. "/sheet.png"
    local out, code = mt("scripts/records.lua show " .. helper.q(path) .. " --out " .. helper.q(png)
      .. " --count 10 --scale 4 --cols 5")
    assert.are.equal(0, code, out)
    local sheet = assert(image.load(png))
    -- 5 columns of 48-pixel tiles with 4-pixel gaps, 2 rows with captions
    assert.are.equal(5 * (48 + 4) + 4, sheet.width)
    assert.are.equal(2, (sheet.height - 4) // (48 + 4))
    -- tile 1 (a positive) has its green face box: the target's top-left corner
    local s = assert(assert(record.open(path)):get(1))
    local x1 = math.floor(s.target[1] * 12 * 4 + 0.5)
    local r, g = sheet:get(4 + x1, 4 + 20)
    assert.is_true(g > 150 and r < 100, ("pixel %d %d"):format(r, g))
    -- only one label, at random
    out, code = mt("scripts/records.lua show " .. helper.q(path) .. " --out " .. helper.q(png)
      .. " --label landmark --seed 3 --count 3 --json")
    assert.are.equal(0, code)
    assert.are.equal(png, assert(json.decode(out)).sheet)
    -- the loader's view, augmented
    out, code = mt("scripts/records.lua show " .. helper.q(path) .. " --augment --jitter --count 8 --out "
      .. helper.q(png))
    assert.are.equal(0, code, out)
    assert(image.load(png))
    local _, err
    _, code, err = mt("scripts/records.lua show " .. helper.q(dir .. "/none.rec"))
    assert.are.equal(1, code)
    assert.matches("none.rec: cannot open", err, 1, true)
  end)

  it("merge_records.lua builds the PNet file and the RNet folder", function()
    local pos = F.write(dir .. "/p.rec", 20, {1}, {tag = "p"})
    local neg = F.write(dir .. "/n.rec", 40, {0}, {tag = "n"})
    local out, code, err = mt("scripts/merge_records.lua --net pnet --base 10 --seed 2 --quiet --out "
      .. helper.q(dir .. "/t.rec") .. " " .. helper.q(pos) .. " " .. helper.q(neg) .. " " .. helper.q(path))
    assert.are.equal(0, code, err)
    assert.matches("wrote .*t%.rec: 48 samples", out)
    assert.matches("part: 10 asked, only 4 in the inputs", err, 1, true)
    assert.are.same({positive = 10, part = 4, negative = 30, landmark = 4},
      assert(record.open(dir .. "/t.rec")):counts())
    _, code, err = mt("scripts/merge_records.lua --net pnet --base 10 --strict --out "
      .. helper.q(dir .. "/t2.rec") .. " " .. helper.q(pos) .. " " .. helper.q(neg) .. " " .. helper.q(path))
    assert.are.equal(1, code)
    assert.matches("part: 10 asked, only 4", err, 1, true)
    assert.is_nil(io.open(dir .. "/t2.rec"))
    out, code = mt("scripts/merge_records.lua --net rnet --layout per-class --json --out "
      .. helper.q(dir .. "/r") .. " " .. helper.q(pos) .. " " .. helper.q(neg))
    assert.are.equal(1, code) -- 12x12 inputs for a 24x24 net
    out, code, err = mt("scripts/merge_records.lua --net pnet --layout per-class --json --out "
      .. helper.q(dir .. "/r") .. " " .. helper.q(pos) .. " " .. helper.q(neg) .. " " .. helper.q(path))
    assert.are.equal(0, code, err)
    local j = assert(json.decode(out))
    assert.are.equal(4, #j.outputs)
    assert.are.equal(25, assert(record.open(dir .. "/r/positive.rec")).count)
    local _
    _, code = mt("scripts/merge_records.lua --net pnet " .. helper.q(pos))
    assert.are.equal(2, code)
    -- the counts come from the stage's settings: --set changes them, and what was used is
    -- written beside the output as a config file
    _, code, err = mt("scripts/merge_records.lua --net pnet --base 10 --set ratio_negative=2 "
      .. "--set landmark_count=1 --quiet --out " .. helper.q(dir .. "/t3.rec") .. " " .. helper.q(pos)
      .. " " .. helper.q(neg) .. " " .. helper.q(path))
    assert.are.equal(0, code, err)
    assert.are.same({positive = 10, part = 4, negative = 20, landmark = 1},
      assert(record.open(dir .. "/t3.rec")):counts())
    local used = assert(require("mtcnn.config").load_file("pnet", dir .. "/t3.rec.config.lua"))
    assert.are.equal(10, used.merge.base)
    assert.are.equal(2, used.merge.ratio_negative)
    _, code, err = mt("scripts/merge_records.lua --net pnet --set ratio_negatve=2 --out "
      .. helper.q(dir .. "/t4.rec") .. " " .. helper.q(pos))
    assert.are.equal(2, code)
    assert.matches("did you mean 'ratio_negative'", err, 1, true)
  end)
end)

describe("bench.lua loader", function()
  it("reports batches per second as JSON", function()
    local out, code, err = mt("scripts/bench.lua loader --net pnet --batches 5 --samples 2000 --json")
    assert.are.equal(0, code, err)
    local j = assert(json.decode(out))
    assert.are.equal("pnet", j.net)
    assert.are.equal(384, j.batch)
    assert.is_true(j.batches_per_s > 0)
    assert.is_true(j.jitter and j.mirror)
  end)
end)

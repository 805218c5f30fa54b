-- scripts/mix_model.lua: a model folder of nets taken from several models, each keeping its
-- model's output conventions; refused mixtures and outputs.

local helper = require "helper"
local mtcnn = require "mtcnn"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"

local q = helper.q
local SCRIPT = q(helper.home .. "/scripts/mix_model.lua")
local ORIGINAL = helper.home .. "/models/original"
local ASTRONAUT = helper.home .. "/examples/astronaut.png"

-- A copy of the bundled model whose manifest is changed by edit(manifest).
local function variant(dir, edit)
  os.execute(("cp -r %s %s"):format(q(ORIGINAL), q(dir)))
  local m = assert(json.read_file(dir .. "/manifest.json"))
  edit(m)
  helper.write_file(dir .. "/manifest.json", json.encode(m))
  return dir
end

describe("mix_model.lua", function()
  local dir

  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  it("takes each net with its own model's convention, and the result detects as that cascade", function()
    -- a model whose nets follow the trained models' conventions (PNet maps with width + 1,
    -- landmarks decoded with offset 0.5)
    local other = variant(dir .. "/other", function(m)
      m.name = "other"
      m.conventions = {landmark_offset = 0.5, pnet_width_plus_one = true}
    end)
    local out = dir .. "/mixed"
    local res, code, err = helper.mtcnn(("%s --pnet %s --rnet original --onet original --out %s")
      :format(SCRIPT, q(other), q(out)))
    assert.are.equal(0, code, err)
    assert.truthy(res:find("pnet from " .. other, 1, true), res)
    local m = assert(json.read_file(out .. "/manifest.json"))
    assert.are.same({landmark_offset = 1, pnet_width_plus_one = true}, m.conventions)
    assert.are.equal("mixed-other-mtcnn-original-mtcnn-original", m.name)
    assert.are.equal(other, m.provenance.pnet.model)
    assert.are.equal("other", m.provenance.pnet.name)
    assert.are.equal(sys.realpath(ORIGINAL), sys.realpath(m.provenance.onet.model))
    assert.are.same({pnet = "pnet.mtn", rnet = "rnet.mtn", onet = "onet.mtn"}, m.nets)
    for _, arch in ipairs({"pnet", "rnet", "onet"}) do
      assert.are.equal(helper.read_file(ORIGINAL .. "/" .. arch .. ".mtn"), helper.read_file(out .. "/" .. arch .. ".mtn"))
    end
    assert.are.equal(helper.read_file(ORIGINAL .. "/LICENSE"), helper.read_file(out .. "/LICENSE"))
    -- the mixture detects as the original nets run with those two conventions
    local img = assert(mtcnn.image.load(ASTRONAUT))
    local mixed = mtcnn.detector.new{model = out}:detect(img)
    local nets = assert(mtcnn.detector.load_model(ORIGINAL))
    nets.manifest = {conventions = {landmark_offset = 1, pnet_width_plus_one = true}}
    local expected = assert(mtcnn.detector.new{nets = nets}):detect(img)
    assert.is_true(#mixed > 0)
    assert.are.equal(json.encode(expected), json.encode(mixed))
    -- the ONet's convention follows the ONet's model
    local out2 = dir .. "/mixed2"
    _, code, err = helper.mtcnn(("%s --pnet original --rnet original --onet %s --out %s --name swap")
      :format(SCRIPT, q(other), q(out2)))
    assert.are.equal(0, code, err)
    m = assert(json.read_file(out2 .. "/manifest.json"))
    assert.are.same({landmark_offset = 0.5, pnet_width_plus_one = false}, m.conventions)
    assert.are.equal("swap", m.name)
    -- its landmarks are decoded with the ONet's offset: half a pixel off the original model's
    local swapped = mtcnn.detector.new{model = out2}:detect(img)
    local plain = mtcnn.detector.new():detect(img)
    assert.are.equal(#plain, #swapped)
    for i, f in ipairs(plain) do
      assert.are.same(f.box, swapped[i].box)
      for k = 1, 5 do
        helper.near(f.landmarks[k][1] + 0.5, swapped[i].landmarks[k][1], 1e-9)
        helper.near(f.landmarks[k][2] + 0.5, swapped[i].landmarks[k][2], 1e-9)
      end
    end
  end)

  it("refuses what cannot make one cascade, before writing anything", function()
    local out = dir .. "/mixed"
    -- another preprocessing
    local bgr = variant(dir .. "/bgr", function(m) m.preprocessing.colour = "BGR" end)
    local _, code, err = helper.mtcnn(("%s --pnet original --rnet %s --onet original --out %s")
      :format(SCRIPT, q(bgr), q(out)))
    assert.are.equal(1, code, err)
    assert.truthy(err:find("prepare their inputs differently", 1, true), err)
    assert.is_nil(sys.stat(out))
    -- a model without the net asked for
    local pnet_only = variant(dir .. "/pnet_only", function(m) m.nets = {pnet = "pnet.mtn"} end)
    _, code, err = helper.mtcnn(("%s --pnet original --rnet original --onet %s --out %s")
      :format(SCRIPT, q(pnet_only), q(out)))
    assert.are.equal(1, code, err)
    assert.truthy(err:find("has no onet", 1, true), err)
    -- an unknown model, a missing flag: usage errors
    _, code, err = helper.mtcnn(("%s --pnet nope --rnet original --onet original --out %s"):format(SCRIPT, q(out)))
    assert.are.equal(2, code, err)
    assert.truthy(err:find("--pnet: model nope", 1, true), err)
    _, code = helper.mtcnn(("%s --pnet original --rnet original --out %s"):format(SCRIPT, q(out)))
    assert.are.equal(2, code)
    assert.is_nil(sys.stat(out))
    -- a model folder at --out is replaced only with --overwrite, and never a source
    _, code = helper.mtcnn(("%s --pnet original --rnet original --onet original --out %s"):format(SCRIPT, q(out)))
    assert.are.equal(0, code)
    _, code, err = helper.mtcnn(("%s --pnet original --rnet original --onet original --out %s"):format(SCRIPT, q(out)))
    assert.are.equal(2, code)
    assert.truthy(err:find("--overwrite", 1, true), err)
    _, code, err = helper.mtcnn(("%s --pnet original --rnet original --onet original --out %s --overwrite")
      :format(SCRIPT, q(out)))
    assert.are.equal(0, code, err)
    _, code, err = helper.mtcnn(("%s --pnet %s --rnet original --onet original --out %s --overwrite")
      :format(SCRIPT, q(bgr), q(bgr)))
    assert.are.equal(2, code, err)
    -- an output that cannot be written: status 3
    helper.write_file(dir .. "/file", "")
    _, code, err = helper.mtcnn(("%s --pnet original --rnet original --onet original --out %s")
      :format(SCRIPT, q(dir .. "/file/sub")))
    assert.are.equal(3, code, err)
  end)
end)

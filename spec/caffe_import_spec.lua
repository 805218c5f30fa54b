-- The importer turns the original Caffe models into nets that take normal
-- images and reproduce every golden output (docs/design.md, 'Importing the original weights').
local helper = require "helper"
local json = require "mtcnn.json"
local T = require "mtcnn.tensor"

describe("caffe import", function()
  local nets

  local function load_f32(entry)
    local bytes = helper.read_file(helper.shared .. "/models/golden/" .. entry.file)
    return T.from_bytes(bytes, entry.shape)
  end

  it("builds the three nets with the original parameter counts", function()
    helper.need_shared("the original Caffe models")
    nets = assert(require("mtcnn.caffe_import").load(helper.shared .. "/models/caffe"))
    assert.are.equal(6632, nets.pnet:num_parameters())
    assert.are.equal(100178, nets.rnet:num_parameters())
    assert.are.equal(389040, nets.onet:num_parameters())
    assert.is_false(nets.pnet.options.landmarks)
    assert.is_false(nets.rnet.options.landmarks)
    assert.is_true(nets.onet.options.landmarks)
  end)

  it("matches every golden case within 1e-4 on normal (untransposed) inputs", function()
    helper.need_shared("the golden vectors")
    nets = nets or assert(require("mtcnn.caffe_import").load(helper.shared .. "/models/caffe"))
    local man = assert(json.read_file(helper.shared .. "/models/golden/manifest.json"))
    local names = {
      pnet = {cls = "prob1", box = "conv4-2"},
      rnet = {cls = "prob1", box = "conv5-2"},
      onet = {cls = "prob1", box = "conv6-2", landmarks = "conv6-3"},
    }
    local checked = 0
    for _, case in ipairs(man.cases) do
      local net = nets[case.net]
      -- the golden blobs are transposed images: [n, c, x, y] -> ours [n, c, y, x]
      local x = load_f32(case.input):transpose(3, 4):contiguous()
      local out = net:forward(x)
      for head, golden_name in pairs(names[case.net]) do
        local want = load_f32(case.outputs[golden_name])
        local got = out[head]
        if got:dim() == 4 then got = got:transpose(3, 4) end -- back to the golden layout
        local d = got:max_abs_diff(want)
        assert(d <= 1e-4, ("%s %s: max abs difference %.3g"):format(case.name, head, d))
        checked = checked + 1
      end
    end
    assert.are.equal(18, checked) -- 8 cases, 2 or 3 outputs each
  end)

  it("passes over a layer without a name, as Caffe does", function()
    helper.need_shared("the original Caffe models")
    local dir = helper.tmpdir()
    local src = helper.shared .. "/models/caffe/det1"
    helper.write_file(dir .. "/det1.prototxt",
      helper.read_file(src .. ".prototxt") .. '\nlayer { type: "Silence" bottom: "prob1" }\n')
    helper.write_file(dir .. "/det1.caffemodel", helper.read_file(src .. ".caffemodel"))
    local net = assert(require("mtcnn.caffe_import").load_net(dir, "pnet"))
    assert.are.equal(6632, net:num_parameters())
    helper.rmdir(dir)
  end)

  it("refuses a folder without the models", function()
    local dir = helper.tmpdir()
    local nets2, err = require("mtcnn.caffe_import").load(dir)
    assert.is_nil(nets2)
    assert.matches("det1.prototxt", err, 1, true)
    helper.rmdir(dir)
  end)
end)

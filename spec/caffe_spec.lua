-- Reading the original Caffe models without Caffe.
local caffe = require "mtcnn.caffe"
local json = require "mtcnn.json"
local helper = require "helper"

describe("caffe reader", function()
  local dir = helper.shared .. "/models/caffe"

  it("reads the three original models with their layer shapes", function()
    helper.need_shared("the original Caffe models")
    local m = assert(caffe.read_caffemodel(dir .. "/det3.caffemodel"))
    local blobs = caffe.layer_blobs(m)
    assert.are.same({32, 3, 3, 3}, blobs.conv1[1].shape)
    assert.are.same({32}, blobs.conv1[2].shape)
    assert.are.same({256, 1152}, blobs.conv5[1].shape)
    assert.are.same({10, 256}, blobs["conv6-3"][1].shape)
    local p = assert(caffe.read_prototxt(dir .. "/det1.prototxt"))
    assert.are.equal("PNet", p.name)
    local types = {}
    for _, l in ipairs(p.layers) do types[#types + 1] = l.type end
    assert.are.equal("Convolution", types[1])
    assert.are.equal(10, caffe.first(p.layers[1].params.convolution_param[1], "num_output"))
    local pool = p.layers[3].params.pooling_param[1]
    assert.are.equal("MAX", caffe.first(pool, "pool"))
    assert.are.equal(2, caffe.first(pool, "kernel_size"))
  end)

  it("gives exactly the weights of the golden dump", function()
    helper.need_shared("the golden weights")
    local man = assert(json.read_file(helper.shared .. "/models/golden/manifest.json"))
    local compared = 0
    for net, det in pairs({pnet = "det1", rnet = "det2", onet = "det3"}) do
      local blobs = caffe.layer_blobs(assert(caffe.read_caffemodel(dir .. "/" .. det .. ".caffemodel")))
      for _, layer in ipairs(man.weights[net].layers) do
        for i, p in ipairs(layer.params) do
          local want = helper.read_file(helper.shared .. "/models/golden/" .. p.file)
          assert.are.equal(want, blobs[layer.name][i].data, net .. " " .. layer.name .. " " .. i)
          compared = compared + 1
        end
      end
    end
    assert.are.equal(50, compared)
  end)

  it("returns nil and a message for files that are not models", function()
    local tmp = helper.tmpdir()
    local bad = tmp .. "/bad.caffemodel"
    helper.write_file(bad, "\255\255\255\255\255\255\255\255\255\255\255")
    local m, err = caffe.read_caffemodel(bad)
    assert.is_nil(m)
    assert.matches("bad.caffemodel: not a valid caffemodel", err, 1, true)
    if helper.has_shared then
      local whole = helper.read_file(dir .. "/det1.caffemodel")
      helper.write_file(bad, whole:sub(1, #whole // 2))
      m, err = caffe.read_caffemodel(bad)
      assert.is_nil(m)
      assert.matches("truncated", err, 1, true)
    end
    local txt = tmp .. "/bad.prototxt"
    helper.write_file(txt, 'name: "x"\nlayer { name: "a" type: "Convolution" ')
    m, err = caffe.read_prototxt(txt)
    assert.is_nil(m)
    assert.matches("missing '}'", err, 1, true)
    -- well-formed text whose layers are not messages of strings (found by fuzz/run.sh)
    for text, want in pairs({
      ["layer: 1\n"] = "layer 1 is a value (1), not a { ... } message",
      ["layers: true\n"] = "layer 1 is a value (true)",
      ["layer { bottom { } }\n"] = "layer 1: bottom is a message, not a string",
      ["name { }\nlayer { name: \"a\" }\n"] = "the net's name is a message",
    }) do
      helper.write_file(txt, text)
      m, err = caffe.read_prototxt(txt)
      assert.is_nil(m)
      assert.matches("bad.prototxt: " .. want, err, 1, true)
    end
    m, err = caffe.read_caffemodel(tmp .. "/absent")
    assert.is_nil(m)
    assert.matches("absent", err, 1, true)
    helper.rmdir(tmp)
  end)
end)

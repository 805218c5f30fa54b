-- The models of models/: each loads by name and finds the astronaut's face; the trained one
-- (models/ours) says where it came from, how to make it again and how good it is.

local helper = require "helper"
local mtcnn = require "mtcnn"
local json = require "mtcnn.json"
local box = require "mtcnn.box"
local pipeline = require "mtcnn.pipeline"

local ASTRONAUT = helper.home .. "/examples/astronaut.png"

describe("bundled models", function()
  it("are original and ours, and each finds the astronaut's face", function()
    local names = mtcnn.detector.bundled_models()
    assert.are.same({"original", "ours"}, names)
    local img = assert(mtcnn.image.load(ASTRONAUT))
    local reference = mtcnn.detector.new():detect(img)
    assert.are.equal(1, #reference)
    for _, name in ipairs(names) do
      local faces = assert(mtcnn.detector.new{model = name}):detect(img)
      local best = 0
      for _, f in ipairs(faces) do best = math.max(best, box.iou(f.box, {reference[1].box})[1]) end
      assert.is_true(best > 0.6, ("%s: best IoU %.2f with the original's face"):format(name, best))
    end
  end)

  it("ours has its recipe, its data's licence and its measurements in the manifest", function()
    local dir = helper.home .. "/models/ours"
    local m = assert(json.read_file(dir .. "/manifest.json"))
    -- the licence of the training data: research use
    assert.truthy(m.licence:find("research use", 1, true), m.licence)
    -- the recipe is a pipeline config of this repository that the pipeline accepts, and it
    -- holds the settings the ONet was trained with
    local cfg = assert(pipeline.load_config({helper.home .. "/" .. m.recipe.config}))
    assert.are.equal(1200, cfg.onet.hard.hard_neg_max)
    -- ONet's positives and part faces are 30 pixels wide or more, mined and drawn
    assert.are.equal(30, cfg.onet.hard.hard_face_min_side)
    assert.are.equal(30, cfg.onet.detection.min_face)
    assert.is_true(cfg.data.onet_detection) -- ONet's drawn samples beside the mined ones
    assert.is_true(cfg.data.onet_landmark_windows) -- and landmark samples framed by RNet
    for _, arch in ipairs({"rnet", "onet"}) do
      local trained = m.provenance[arch].config
      assert.are.equal(cfg[arch].train.lr, trained.lr, arch)
      assert.are.equal(cfg[arch].train.epochs, trained.epochs, arch)
      assert.are.same(cfg[arch].train.lr_epochs, trained.lr_epochs, arch)
    end
    -- every net has its provenance, and the conventions of the nets this project trains
    for _, arch in ipairs({"pnet", "rnet", "onet"}) do
      assert.are.equal("table", type(m.provenance[arch]), arch)
      assert.are.equal(40, #m.provenance[arch].commit, arch)
    end
    assert.are.same({landmark_offset = 0.5, pnet_width_plus_one = true}, m.conventions)
    -- its measurements beside the original's: the default model is ours only where it beats
    -- the original on every measure at the default settings
    local ours, orig = m.metrics.preset_original, m.metrics.original_weights.preset_original
    local beats = ours.landmarks.nme < orig.landmarks.nme
    for _, k in ipairs({"easy", "medium", "hard"}) do
      assert.is_true(ours.wider_ap[k] > 0 and orig.wider_ap[k] > 0, k)
      beats = beats and ours.wider_ap[k] > orig.wider_ap[k]
    end
    assert.are.equal(beats and "ours" or "original", mtcnn.detector.default_model():match("[^/]+$"))
    local size = 0
    for _, arch in ipairs({"pnet", "rnet", "onet"}) do
      size = size + mtcnn.sys.stat(dir .. "/" .. m.nets[arch]).size
    end
    assert.are.equal(size, m.size_bytes)
  end)
end)

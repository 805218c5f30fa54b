-- mtcnn.eval.stage and scripts/eval_stage.lua: recall of the faces at a stage's output
-- and candidates per image.
local mtcnn = require "mtcnn"
local json = require "mtcnn.json"
local data = require "mtcnn.data"
local stage = require "mtcnn.eval.stage"
local helper = require "helper"

local q = helper.q

describe("eval.stage", function()
  it("recalls a face when some box overlaps it enough (+1 areas) and counts faces by side", function()
    local faces = {
      {0, 0, 19, 19},        -- 20 x 20: found exactly
      {100, 0, 119, 19},     -- 20 x 20: the box {110, 0, 129, 19} covers 200 of 600 px, IoU 1/3
      {200, 0, 209, 9},      -- 10 x 10: too small to count at min side 20
      {300, 0, 324, 14},     -- 25 x 15: counted (the larger side decides), not found
    }
    local boxes = {{box = {0, 0, 19, 19}, score = 0.9}, {box = {110, 0, 129, 19}, score = 0.8},
                   {box = {200, 0, 209, 9}, score = 0.7}}
    assert.are.same({1, 3}, {stage.recall(faces, boxes)})
    -- IoU 1/3 is recalled at an IoU bar of 1/3 (>=), not above it
    assert.are.same({2, 3}, {stage.recall(faces, boxes, {iou = 1 / 3})})
    assert.are.same({1, 3}, {stage.recall(faces, boxes, {iou = 1 / 3 + 1e-9})})
    -- the small face counts once min_side allows it, and the box on it finds it
    assert.are.same({2, 4}, {stage.recall(faces, boxes, {min_side = 10})})
    assert.are.same({0, 1}, {stage.recall(faces, boxes, {min_side = 21})}) -- only the 25 x 15 one
    -- plain rows work as boxes; no boxes find nothing; no faces count nothing
    assert.are.same({1, 3}, {stage.recall(faces, {{0, 0, 19, 19}})})
    assert.are.same({0, 3}, {stage.recall(faces, {})})
    assert.are.same({0, 0}, {stage.recall({}, boxes)})
    -- several boxes on one face recall it once; one box may recall two faces
    assert.are.same({1, 1}, {stage.recall({{0, 0, 19, 19}}, {{0, 0, 19, 19}, {1, 1, 19, 19}})})
    assert.are.same({2, 2}, {stage.recall({{0, 0, 19, 19}, {1, 1, 20, 20}}, {{0, 0, 19, 19}})})
  end)

  describe("eval_stage.lua", function()
    local wider = helper.shared .. "/data/wider"

    local function run(args)
      local out, code, err = helper.mtcnn("scripts/eval_stage.lua --wider " .. q(wider) .. " " .. args)
      return out, code, err
    end

    -- The first n val images present, as the script takes them.
    local function first_entries(n)
      local entries = assert(data.read_wider(wider .. "/wider_face_split/wider_face_val_bbx_gt.txt",
        {images = wider .. "/WIDER_val/images"}))
      local out = {}
      for i = 1, n do out[i] = entries[i] end
      return out
    end

    it("reports PNet's recall and candidates on a few val images, as the detector gives them", function()
      helper.need_shared("the WIDER val images")
      local out, code, err = run("--limit 3 --stages 1 --json --threads 2")
      assert.are.equal(0, code, err)
      local r = assert(json.decode(out))
      assert.are.equal(3, r.images)
      assert.are.equal(1, r.stages)
      assert.are.equal("pnet", r.stage)
      assert.is_true(r.recall >= 0 and r.recall <= 1)
      assert.is_true(r.ms_per_image > 0)
      -- the same numbers from the detector and the recall function directly
      local det = assert(mtcnn.detector.new{stages = 1})
      local faces, recalled, candidates = 0, 0, 0
      for _, e in ipairs(first_entries(3)) do
        local found = det:detect(e.path)
        local k, n = stage.recall(e.faces, found)
        recalled, faces, candidates = recalled + k, faces + n, candidates + #found
      end
      assert.is_true(faces > 0)
      assert.are.equal(faces, r.faces)
      assert.are.equal(recalled, r.recalled)
      assert.are.equal(candidates, r.candidates)
      helper.near(candidates / 3, r.candidates_per_image, 1e-9, "candidates per image")
      helper.near(recalled / faces, r.recall, 1e-12, "recall")
      helper.near(r.candidates_per_image, r.per_stage.pnet.kept, 1e-9, "pnet kept")
      assert.is_nil(r.per_stage.rnet)
    end)

    it("chains the stages' counts and takes the detection settings", function()
      helper.need_shared("the WIDER val images")
      local out, code, err = run("--limit 2 --stages rnet --json --thresholds 0.7,0.8 --min-face 30 " ..
        "--iou 0.4 --min-side 30")
      assert.are.equal(0, code, err)
      local r = assert(json.decode(out))
      assert.are.equal(2, r.stages)
      assert.are.same({0.7, 0.8, 0.7}, r.settings.thresholds)
      assert.are.equal(30, r.settings.min_face)
      assert.are.equal(0.4, r.iou)
      assert.are.equal(30, r.min_side)
      helper.near(r.per_stage.pnet.kept, r.per_stage.rnet.windows, 1e-9, "rnet windows")
      helper.near(r.per_stage.rnet.kept, r.candidates_per_image, 1e-9, "rnet kept")
      assert.is_true(r.per_stage.rnet.kept <= r.per_stage.pnet.kept)
      local faces = 0
      for _, e in ipairs(first_entries(2)) do faces = faces + select(2, stage.recall(e.faces, {}, {min_side = 30})) end
      assert.are.equal(faces, r.faces)
    end)

    it("explains bad command lines with status 2", function()
      local out, code = helper.mtcnn("scripts/eval_stage.lua --help")
      assert.are.equal(0, code)
      assert.matches("%-%-stages", out)
      assert.matches("%-%-min%-side", out)
      local _, err
      _, code, err = helper.mtcnn("scripts/eval_stage.lua --stages 4")
      assert.are.equal(2, code)
      assert.matches("%-%-stages must be one of", err)
      _, code, err = helper.mtcnn("scripts/eval_stage.lua --iou 1.5")
      assert.are.equal(2, code)
      assert.matches("%-%-iou must lie in", err)
      _, code, err = helper.mtcnn("scripts/eval_stage.lua --limit 0")
      assert.are.equal(2, code)
      assert.matches("usage:", err)
      _, code, err = helper.mtcnn("scripts/eval_stage.lua --thresholds 0.1,0.2,0.3,0.4")
      assert.are.equal(2, code)
      assert.matches("at most 3", err)
      _, code, err = helper.mtcnn("scripts/eval_stage.lua --wider /nonexistent")
      assert.are.equal(1, code)
      assert.matches("no image folder", err)
    end)
  end)
end)

-- The WIDER FACE protocol (mtcnn.eval.wider, runtime/eval/mt_eval_wider.c): the
-- official tool's arithmetic, hand-made cases with known AP, a hand-computed
-- regression on real val images, and scripts/eval_wider.lua end to end.

local helper = require "helper"
local json = require "mtcnn.json"
local wider = require "mtcnn.eval.wider"
local predictions = require "mtcnn.eval.predictions"
local core = require("mtcnn.core").eval

local function near(a, b, what) helper.near(a, b, 1e-9, what) end

-- Two hand-made images (x y w h boxes; keep lists per setting):
--   A: faces 1, 2, 3; easy counts 1, 2 (3 is ignored there), medium and hard count all.
--   B: faces 1, 2; easy counts 1, medium and hard count both.
local function toy_gt(arith)
  return wider.make_gt({
    {event = "0--Parade", name = "a", boxes = {{0, 0, 20, 20}, {100, 0, 20, 20}, {200, 0, 20, 20}},
     keep = {easy = {1, 2}, medium = {1, 2, 3}, hard = {1, 2, 3}}},
    {event = "0--Parade", name = "b", boxes = {{0, 0, 30, 30}, {50, 50, 30, 30}},
     keep = {easy = {1}, medium = {1, 2}, hard = {1, 2}}},
  }, arith)
end

describe("wider: the official tool's arithmetic", function()
  it("rounds int32 overlaps, so the first face with IoU >= 0.5 wins (boxoverlap with int32 ground truth)", function()
    -- faces 1 and 2 both overlap the prediction; face 2 more (IoU 1 vs 110/132)
    local gt = {0, 0, 10, 10, 1, 0, 10, 10}
    local pred = {1, 0, 10, 10}
    local best, ov = core.wider_match(gt, "int32", pred)
    assert.are.same({1}, best)
    assert.are.same({1}, ov) -- round(0.83) = 1
    best, ov = core.wider_match(gt, "double", pred)
    assert.are.same({2}, best)
    near(ov[1], 1)
    -- +1 convention: 0..10 inclusive is 11 pixels; shifted by one: 10 * 11 / (2 * 121 - 110)
    best, ov = core.wider_match({0, 0, 10, 10}, "double", pred)
    near(ov[1], 110 / 132)
  end)

  it("rounds the prediction's corners half away from zero and the ratio to 0 or 1", function()
    -- IoU exactly 0.5 rounds to 1; just below rounds to 0
    local gt = {0, 0, 9, 9} -- x2 = 9: 10x10 pixels
    local _, ov = core.wider_match(gt, "int32", {0, 0, 9, 19}) -- 100 / 200
    assert.are.same({1}, ov)
    _, ov = core.wider_match(gt, "double", {0, 0, 9, 19})
    near(ov[1], 0.5)
    _, ov = core.wider_match(gt, "int32", {0, 0, 9, 20}) -- 100 / 210
    assert.are.same({0}, ov)
    -- x = 4.5 rounds to 5 in the intersection (int32), stays 4.5 in the double union
    _, ov = core.wider_match(gt, "int32", {4.5, 0, 9, 9})
    -- inter: x1 = 5, x2 = min(9, round(13.5) = 14) = 9 -> 5 x 10 = 50; union = round(100 + 100) - 50
    assert.are.same({0}, ov) -- round(50 / 150)
    _, ov = core.wider_match(gt, "double", {4.5, 0, 9, 9})
    near(ov[1], 55 / 145)
  end)

  it("reports no match without faces, and no overlap for disjoint boxes", function()
    local best, ov = core.wider_match({}, "int32", {0, 0, 5, 5})
    assert.are.same({0}, best)
    assert.is_true(ov[1] ~= ov[1])
    best, ov = core.wider_match({0, 0, 5, 5}, "int32", {100, 100, 5, 5})
    assert.are.same({1}, best)
    assert.are.same({0}, ov)
    assert.has_error(function() core.wider_match({1, 2, 3}, "int32", {}) end,
      "wider_match: ground truth: 3 numbers, not a multiple of 4")
  end)

  it("normalises scores in single precision, as norm_score.m's MATLAB singles do", function()
    local norm = wider.score_normaliser({0.1, 0.95, 0.9})
    assert.are.equal(1.0, norm(0.95))
    assert.are.equal(0.0, norm(0.1))
    local f32 = wider._f32
    assert.are.equal(f32(f32(f32(0.9) - f32(0.1)) / f32(f32(0.95) - f32(0.1))), norm(0.9))
    assert.are_not.equal((0.9 - 0.1) / (0.95 - 0.1), norm(0.9)) -- not the double result
    local same, warn = wider.score_normaliser({0.5, 0.5})
    assert.are.equal(1.0, same(0.5))
    assert.truthy(warn:find("same score"))
  end)

  it("computes VOCap with MATLAB's NaN-skipping max", function()
    -- recall 0.5 at precision 1, then recall 1 at precision 0.5: 0.5 * 1 + 0.5 * 0.5
    near(wider.voc_ap({0.5, 1}, {1, 0.5}), 0.75)
    -- a precision dip is filled from the right
    near(wider.voc_ap({0.25, 0.25, 0.5}, {1, 0.2, 0.6}), 0.25 * 1 + 0.25 * 0.6)
    -- NaN precision (0/0 before any proposal) is skipped
    near(wider.voc_ap({0, 0, 0.5}, {0 / 0, 0 / 0, 1}), 0.5)
  end)
end)

describe("wider.evaluate on hand-made cases", function()
  local function exact_preds(gt, scores)
    local preds, s = {}, 0
    for _, im in ipairs(gt.images) do
      local boxes = {}
      for i = 1, im.nfaces do
        s = s + 1
        boxes[i] = {im.boxes[4 * i - 3], im.boxes[4 * i - 2], im.boxes[4 * i - 1], im.boxes[4 * i], scores[s]}
      end
      preds[im.key] = boxes
    end
    return preds
  end

  for _, arith in ipairs({"int32", "double"}) do
    it("gives AP 1 for perfect predictions (" .. arith .. " ground truth)", function()
      local gt = toy_gt(arith)
      local r = wider.evaluate(gt, exact_preds(gt, {0.9, 0.8, 0.7, 0.6, 0.5}))
      for _, s in ipairs(wider.SETTINGS) do near(r.settings[s].ap, 1, s) end
      assert.are.equal(2, r.images)
      assert.are.same({3, 5, 5}, {r.settings.easy.faces, r.settings.medium.faces, r.settings.hard.faces})
    end)
  end

  it("gives AP 0 for predictions shifted below IoU 0.5, and the recalled share for missing ones", function()
    local gt = toy_gt("int32")
    local shifted = exact_preds(gt, {0.9, 0.8, 0.7, 0.6, 0.5})
    for _, boxes in pairs(shifted) do
      for _, b in ipairs(boxes) do b[1] = b[1] + b[3] * 0.7 end -- IoU (0.3 w) / (1.7 w) < 0.5
    end
    local r = wider.evaluate(gt, shifted)
    for _, s in ipairs(wider.SETTINGS) do assert.are.equal(0, r.settings[s].ap, s) end
    -- only face A1 predicted; B has an entry without boxes
    local only = {["0--Parade/a"] = {{0, 0, 20, 20, 0.9}, {500, 500, 5, 5, 0.1}}, ["0--Parade/b"] = {}}
    r = wider.evaluate(gt, only)
    near(r.settings.easy.ap, 1 / 3)   -- 1 of 3 easy faces at precision 1
    near(r.settings.hard.ap, 1 / 5)
    assert.are.equal(2, r.images)
  end)

  it("drops predictions on ignored faces and counts a second hit on a face as a false proposal", function()
    local gt = toy_gt("int32")
    -- A3 is ignored in easy: its prediction, ranked first, must not cost precision there
    local preds = {["0--Parade/a"] = {{200, 0, 20, 20, 0.9}, {0, 0, 20, 20, 0.8}, {0, 0, 20, 20, 0.7}},
                   ["0--Parade/b"] = {}}
    local r = wider.evaluate(gt, preds)
    -- easy: A1 at precision 1 (the duplicate comes after it): 1/3
    near(r.settings.easy.ap, 1 / 3)
    -- hard: A3 then A1 recalled at precision 1: 2/5; the duplicate lowers precision later only
    near(r.settings.hard.ap, 2 / 5)
  end)

  it("matches the numbers computed by hand for the toy subset", function()
    -- scores 0.95 .. 0.1 normalise to 1, 0.941, 0.824, 0.706, 0.588, 0.235, 0 (single precision);
    -- A: p1 = A1 (0.9), p2 = A3 (0.8), p3 false (0.7), p4 = A1 again (0.3)
    -- B: q1 = B2 (0.95), q3 false (0.6), q2 = B1 (0.1)
    -- easy (A1, A2, B1 count; A3 and B2 are ignored): recall 1/3 at precision 1 from t = 59,
    --   then precision 1/2, 1/3, 1/4; recall 2/3 at precision 2/5 at t = 1000:
    --   AP = 1/3 * 1 + 1/3 * 2/5
    -- medium = hard (all count): recall 1/5, 2/5, 3/5 at precision 1, then 3/4, 3/5, 1/2;
    --   recall 4/5 at precision 4/7: AP = 3/5 + 1/5 * 4/7
    for _, arith in ipairs({"int32", "double"}) do
      local gt = toy_gt(arith)
      local preds = {
        ["0--Parade/a"] = {{0, 0, 20, 20, 0.9}, {200, 0, 20, 20, 0.8}, {300, 300, 20, 20, 0.7}, {0, 0, 20, 20, 0.3}},
        ["0--Parade/b"] = {{0, 0, 30, 30, 0.1}, {50, 50, 30, 30, 0.95}, {500, 500, 10, 10, 0.6}},
      }
      local r = wider.evaluate(gt, preds)
      near(r.settings.easy.ap, 1 / 3 + 1 / 3 * 2 / 5, "easy " .. arith)
      near(r.settings.medium.ap, 3 / 5 + 1 / 5 * 4 / 7, "medium " .. arith)
      near(r.settings.hard.ap, 3 / 5 + 1 / 5 * 4 / 7, "hard " .. arith)
      -- the curve itself at a few thresholds
      local e = r.settings.easy
      assert.is_true(e.precision[58] ~= e.precision[58]) -- 0/0 before the first proposal
      near(e.precision[59], 1)
      near(e.recall[59], 1 / 3)
      near(e.precision[295], 1 / 2)
      near(e.precision[412], 1 / 3)
      near(e.precision[765], 1 / 4)
      near(e.precision[1000], 2 / 5)
      near(e.recall[1000], 2 / 3)
    end
  end)

  it("evaluates the images with predictions, every image with subset = all, or a given set", function()
    local gt = toy_gt("int32")
    local preds = {["0--Parade/a"] = {{0, 0, 20, 20, 0.9}, {100, 0, 20, 20, 0.8}, {200, 0, 20, 20, 0.7}}}
    local r = wider.evaluate(gt, preds)
    assert.are.equal(1, r.images)
    near(r.settings.easy.ap, 1)
    r = wider.evaluate(gt, preds, {subset = "all"})
    assert.are.equal(2, r.images)
    near(r.settings.easy.ap, 2 / 3) -- B1 is missed
    r = wider.evaluate(gt, preds, {images = {["0--Parade/b"] = true}})
    assert.are.equal(1, r.images)
    assert.are.equal(0, r.settings.easy.ap)
  end)
end)

describe("wider on the real ground truth", function()
  local gt_dir = helper.shared .. "/data/wider/eval_tools"

  it("reproduces a hand-computed result on two val images", function()
    helper.need_shared("the WIDER ground truth")
    local gt = assert(wider.load_gt(gt_dir))
    assert.are.equal("int32", gt.arith)
    local A, B = gt.by_key["0--Parade/0_Parade_Parade_0_205"], gt.by_key["0--Parade/0_Parade_marchingband_1_404"]
    -- the keep lists this computation relies on
    assert.are.same({{1, 2}, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5, 6}}, {A.keep.easy, A.keep.medium, A.keep.hard})
    assert.are.same({{4, 5}, {2, 3, 4, 5}, {1, 2, 3, 4, 5}}, {B.keep.easy, B.keep.medium, B.keep.hard})
    local function face(im, i, score)
      return {im.boxes[4 * i - 3], im.boxes[4 * i - 2], im.boxes[4 * i - 1], im.boxes[4 * i], score}
    end
    local preds = {
      [A.key] = {face(A, 1, 0.9), face(A, 3, 0.8), {2000, 2000, 10, 10, 0.75}, face(A, 6, 0.7)},
      [B.key] = {face(B, 4, 0.95), face(B, 1, 0.5)},
    }
    -- order: B4 (1), A1 (.889), A3 (.667), false (.556), A6 (.444), B1 (0)
    -- easy: B4, A1 recalled; A3, A6, B1 ignored: AP = 2/4
    -- medium: B4, A1, A3 recalled before the false one; A6, B1 ignored: AP = 3/9
    -- hard: 3 of 11 at precision 1, then 4/11 at 4/5 and 5/11 at 5/6: AP = 3/11 + 2/11 * 5/6
    local r = wider.evaluate(gt, preds)
    assert.are.equal(2, r.images)
    assert.are.same({4, 9, 11}, {r.settings.easy.faces, r.settings.medium.faces, r.settings.hard.faces})
    near(r.settings.easy.ap, 2 / 4)
    near(r.settings.medium.ap, 3 / 9)
    near(r.settings.hard.ap, 3 / 11 + 2 / 11 * 5 / 6)
  end)

  it("gives AP 1 for every val face predicted exactly, except where int32 rounding picks another face", function()
    helper.need_shared("the WIDER ground truth")
    local gt = assert(wider.load_gt(gt_dir))
    local set, n = wider.images_present(helper.shared .. "/data/wider/WIDER_val", gt)
    assert.are.equal(158, n)
    local preds, c = {}, 0
    for _, im in ipairs(gt.images) do
      if set[im.key] then
        local boxes = {}
        for i = 1, im.nfaces do
          c = c + 1
          boxes[i] = {im.boxes[4 * i - 3], im.boxes[4 * i - 2], im.boxes[4 * i - 1], im.boxes[4 * i], 1 - c * 1e-5}
        end
        preds[im.key] = boxes
      end
    end
    local r = wider.evaluate(gt, preds, {iou = "exact"})
    assert.are.equal(158, r.images)
    assert.are.equal(4162, r.boxes)
    for _, s in ipairs(wider.SETTINGS) do near(r.settings[s].ap, 1, s) end
    -- official arithmetic: a few crowded faces overlap an earlier face at IoU >= 0.5 and lose
    -- their prediction to it
    r = wider.evaluate(gt, preds)
    near(r.settings.easy.ap, 1)
    assert.is_true(r.settings.hard.ap < 1 and r.settings.hard.ap > 0.99)
    -- the whole val set: faces of images without predictions are missed
    r = wider.evaluate(gt, preds, {subset = "all", iou = "exact"})
    assert.are.equal(3226, r.images)
    near(r.settings.hard.ap, r.settings.hard.recall[1000])
    assert.are.same({7211, 13319, 31958}, {r.settings.easy.faces, r.settings.medium.faces, r.settings.hard.faces})
  end)
end)

describe("wider: false detections by size", function()
  -- A is toy_gt's first image (face 3 ignored in easy, still a face), B its second, C an image
  -- without faces, D an image with a face and no predictions (not evaluated)
  local function gt_and_preds()
    local gt = wider.make_gt({
      {event = "0--Parade", name = "a", boxes = {{0, 0, 20, 20}, {100, 0, 20, 20}, {200, 0, 20, 20}},
       keep = {easy = {1, 2}, medium = {1, 2, 3}, hard = {1, 2, 3}}},
      {event = "0--Parade", name = "b", boxes = {{0, 0, 30, 30}, {50, 50, 30, 30}},
       keep = {easy = {1}, medium = {1, 2}, hard = {1, 2}}},
      {event = "0--Parade", name = "c", boxes = {}},
      {event = "0--Parade", name = "d", boxes = {{0, 0, 50, 50}}, keep = {hard = {1}}},
    }, "int32")
    local preds = {
      ["0--Parade/a"] = {
        {0, 0, 20, 20, 0.95},    -- face 1: not false
        {200, 0, 20, 20, 0.99},  -- face 3, which easy ignores: not false either
        {300, 0, 10, 10, 0.95},  -- false, side 10, touches nothing
        {0, 0, 30, 50, 0.5},     -- false: IoU 441 / 1581 with face 1; side 50
        {400, 0, 90, 30, 0.9},   -- false, side 90, scored exactly the threshold
      },
      ["0--Parade/b"] = {
        {500, 500, 25, 25, 0.3}, -- false, side 25
        {600, 0, 20, 19, 0.1},   -- false, longer side 20: the 20-40 class
      },
      ["0--Parade/c"] = {{0, 0, 35, 35, 0.97}}, -- no face: false, side 35
    }
    return gt, preds
  end

  it("counts predictions below IoU 0.5 with every face, by longer side and score", function()
    local gt, preds = gt_and_preds()
    local r = wider.false_detections(gt, preds)
    assert.are.equal(0.9, r.min_score)
    assert.are.same({20, 40, 80}, r.sides)
    assert.are.same({1, 1, 0, 1, all = 3}, r.scored)
    assert.are.same({1, 3, 1, 1, all = 6}, r.any_score)
    assert.are.same({scored = 3, any_score = 5}, r.no_overlap)
    -- a higher bar keeps only the detection on the empty image
    r = wider.false_detections(gt, preds, {min_score = 0.96})
    assert.are.same({0, 1, 0, 0, all = 1}, r.scored)
    assert.are.same({1, 3, 1, 1, all = 6}, r.any_score)
    -- a selection of images, as wider.evaluate takes it
    r = wider.false_detections(gt, preds, {images = {["0--Parade/b"] = true}})
    assert.are.same({0, 2, 0, 0, all = 2}, r.any_score)
    assert.are.same({0, 0, 0, 0, all = 0}, r.scored)
  end)

  it("ignores the official rounding: a detection half on a face still touches it", function()
    -- in int32 arithmetic IoU 441 / 1581 rounds to 0; the count uses the exact overlap
    local gt, preds = gt_and_preds()
    preds = {["0--Parade/a"] = {{0, 0, 30, 50, 0.99}}}
    local r = wider.false_detections(gt, preds)
    assert.are.same({0, 0, 1, 0, all = 1}, r.scored)
    assert.are.same({scored = 0, any_score = 0}, r.no_overlap)
  end)
end)

describe("scripts/eval_wider.lua", function()
  it("evaluates JSON Lines and the submission layout alike, saves, compares and plots", function()
    helper.need_shared("the WIDER ground truth")
    local dir = helper.tmpdir()
    -- predictions for two real images: exact faces, one shifted, one false
    local gt = assert(wider.load_gt(helper.shared .. "/data/wider"))
    local lines = {}
    for _, key in ipairs({"0--Parade/0_Parade_Parade_0_205", "4--Dancing/4_Dancing_Dancing_4_194"}) do
      local im = gt.by_key[key]
      local faces = {}
      for i = 1, im.nfaces do
        local x, y, w, h = im.boxes[4 * i - 3], im.boxes[4 * i - 2], im.boxes[4 * i - 1], im.boxes[4 * i]
        if i == 2 then x = x + 0.8 * w end
        faces[i] = {box = {x, y, x + w - 1.25, y + h - 1}, score = 0.5 + i / 10}
      end
      faces[#faces + 1] = {box = {0, 0, 30.5, 30}, score = 0.95}
      lines[#lines + 1] = json.encode({image = "/data/WIDER_val/images/" .. key .. ".jpg", faces = faces})
    end
    helper.write_file(dir .. "/p.jsonl", table.concat(lines, "\n") .. "\n")
    local gtdir = helper.q(helper.shared .. "/data/wider/eval_tools")
    local out, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s --json --save %s")
      :format(helper.q(dir .. "/p.jsonl"), gtdir, helper.q(dir .. "/a.json")))
    assert.are.equal(0, code, err)
    local a = assert(json.decode(out))
    assert.are.equal(2, a.images)
    assert.are.equal(3226, a.images_total)
    assert.is_true(a.easy > 0 and a.easy < 1)
    -- the same through the official layout
    local n = assert(predictions.jsonl_to_wider(dir .. "/p.jsonl", dir .. "/sub"))
    assert.are.equal(2, n)
    out, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s --json")
      :format(helper.q(dir .. "/sub"), gtdir))
    assert.are.equal(0, code, err)
    local b = assert(json.decode(out))
    assert.are.same({a.easy, a.medium, a.hard}, {b.easy, b.medium, b.hard})
    assert.is_nil(a.false_detections)
    -- the false detections: the 30x30 box at the corner on each image, scored 0.95 (the shifted
    -- face keeps an IoU of about 0.1 with its face and is scored 0.7)
    out, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s --json --false-detections")
      :format(helper.q(dir .. "/p.jsonl"), gtdir))
    assert.are.equal(0, code, err)
    local fd = assert(json.decode(out)).false_detections
    assert.are.equal(0.9, fd.min_score)
    assert.are.same({below_20 = 0, ["20_40"] = 2, ["40_80"] = 0, ["80_up"] = 0, all = 2}, fd.scored)
    out, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s --false-detections --min-score 0.96")
      :format(helper.q(dir .. "/p.jsonl"), gtdir))
    assert.are.equal(0, code, err)
    assert.truthy(out:find(">= 0.96%s+0%s+0%s+0%s+0%s+0"), out)
    -- the readable summary, a comparison plot, and a clear note when gnuplot is missing
    out, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s --label b --plot %s --compare %s")
      :format(helper.q(dir .. "/sub"), gtdir, helper.q(dir .. "/pr.png"), helper.q(dir .. "/a.json")),
      "MTCNN_GNUPLOT=/nonexistent/gnuplot")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("evaluated 2 of 3226 val images"), out)
    assert.truthy(out:find("hard%s+%d+%s+0%.%d+"), out)
    assert.truthy(err:find("gnuplot is not available"), err)
    -- a gnuplot that fails to write the picture: the numbers are printed, the status is 3
    local fake = dir .. "/gnuplot_fails"
    helper.write_file(fake, '#!/bin/sh\n[ "$1" = --version ] && { echo "gnuplot 5.4"; exit 0; }\n'
      .. 'echo "cannot open file; output not changed" >&2; exit 1\n')
    os.execute("chmod +x " .. helper.q(fake))
    out, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s --plot %s")
      :format(helper.q(dir .. "/sub"), gtdir, helper.q(dir .. "/pr.png")), "MTCNN_GNUPLOT=" .. helper.q(fake))
    assert.are.equal(3, code, err)
    assert.truthy(out:find("hard%s+%d+%s+0%.%d+"), out)
    assert.truthy(err:find("error: no picture: plot: gnuplot failed: cannot open file", 1, true), err)
    if require("mtcnn.eval.plot").available() then
      out, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s --plot %s --compare %s")
        :format(helper.q(dir .. "/sub"), gtdir, helper.q(dir .. "/pr.png"), helper.q(dir .. "/a.json")))
      assert.are.equal(0, code, err)
      assert.truthy(out:find("plot: .*pr.png %(2 runs%)"), out)
      assert.are.equal("\x89PNG", helper.read_file(dir .. "/pr.png"):sub(1, 4))
    end
    helper.rmdir(dir)
  end)

  it("fails clearly on bad input", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/bad.jsonl", '{"image": "a/b.jpg", "faces": [{"box": [1, 2, 3], "score": 1}]}\n')
    local _, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s")
      :format(helper.q(dir .. "/bad.jsonl"), helper.q(helper.shared .. "/data/wider")))
    if helper.has_shared then
      assert.are.equal(1, code)
      assert.truthy(err:find("bad.jsonl:1: a face's \"box\" must be four finite numbers"), err)
    end
    _, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s")
      :format(helper.q(dir .. "/bad.jsonl"), helper.q(dir)))
    assert.are.equal(1, code)
    assert.truthy(err:find("no wider_face_val.mat in"), err)
    _, code = helper.mtcnn("scripts/eval_wider.lua --iou nearest")
    assert.are.equal(2, code)
    helper.rmdir(dir)
  end)
end)

-- The FDDB protocol (mtcnn.eval.fddb, runtime/eval/mt_eval_fddb.c, mt_hungarian.c):
-- pixel counts of drawn regions, one-to-one matching, the per-image results
-- and their merge, hand-made images with known ROC, and scripts/eval_fddb.lua.
-- No FDDB image exists here: every case is synthetic, with known answers.

local helper = require "helper"
local json = require "mtcnn.json"
local fddb = require "mtcnn.eval.fddb"
local core = require("mtcnn.core").eval

local function near(a, b, what) helper.near(a, b, 1e-12, what) end

-- Pixel counts below were produced by OpenCV 4.6 (Debian python3-opencv) drawing the same
-- regions the way evaluate.cpp does: cv2.ellipse(mask, centre rounded, radii truncated,
-- 180 - (pi - angle) * 180 / pi, 0, 360, 1, -1) and cv2.rectangle(mask, corner, corner, 1, -1).
describe("fddb: drawing regions on the pixel grid as OpenCV does", function()
  it("counts the pixels of a filled ellipse: a polygon with its outline", function()
    assert.are.equal(89, core.fddb_area("ellipse", {5, 5, 0, 10, 10}))
    assert.are.equal(347, core.fddb_area("ellipse", {10, 10, 0, 50, 50}))
    -- radii truncated to 5, centre (10.5, 10.4) rounded to (10, 10), angle 17 degrees
    assert.are.equal(91, core.fddb_area("ellipse", {5.9, 5.99, 0.3, 10.5, 10.4}))
    -- clipped to a 100x100 image
    assert.are.equal(29, core.fddb_area("ellipse", {5, 5, 0, 0, 0}, 100, 100))
    -- a degenerate ellipse is a line of pixels
    assert.are.equal(11, core.fddb_area("ellipse", {5, 0, 0, 20, 20}))
  end)

  it("turns an ellipse by the list's angle (radians, rounded to whole degrees)", function()
    -- a column of 21 pixels through the centre lies inside the ellipse only when its
    -- major axis (10) is vertical: angle pi/2 (or pi/2 + 0.004, the same whole degree)
    local column = {50, 40, 0, 20}
    local upright = core.fddb_overlaps({10, 5, math.pi / 2, 50, 50}, column)[1]
    local lying = core.fddb_overlaps({10, 5, 0, 50, 50}, column)[1]
    local area = core.fddb_area("ellipse", {10, 5, 0, 50, 50})
    assert.are.equal(187, area)
    assert.are.equal(area, core.fddb_area("ellipse", {10, 5, math.pi / 2, 50, 50}))
    near(upright, 21 / area)
    near(lying, 11 / (area + 10))
    assert.are.equal(upright, core.fddb_overlaps({10, 5, math.pi / 2 + 0.004, 50, 50}, column)[1])
  end)

  it("draws a rectangle from the rounded corner (x, y) to the rounded corner (x + w, y + h)", function()
    assert.are.equal(11 * 10, core.fddb_area("rect", {0.4, 0, 9.2, 9}))
    -- cvRound rounds half to even: 0.5 -> 0, 2.5 -> 2
    assert.are.equal(3, core.fddb_area("rect", {0.5, 0, 2, 0}))
    assert.are.equal(6, core.fddb_area("rect", {10, 0, -5, 0}))
    assert.are.equal(36, core.fddb_area("rect", {-5, -5, 10, 10}, 100, 100))
    assert.are.equal(0, core.fddb_area("rect", {200, 0, 10, 10}, 100, 100))
    -- pixels at negative coordinates never count, even when the image size is unknown
    assert.are.equal(36, core.fddb_area("rect", {-5, -5, 10, 10}))
  end)

  it("measures |E and R| / |E or R|", function()
    local ov = core.fddb_overlaps({5, 5, 0, 10, 10, 5, 5, 0, 100, 100}, {5, 5, 10, 10, 200, 200, 4, 4})
    near(ov[1], 89 / 121) -- the disc lies inside the 11x11 square
    assert.are.equal(0, ov[2])
    assert.are.equal(0, ov[3])
    assert.are.equal(0, ov[4])
    near(core.fddb_overlaps({10, 10, 0, 50, 50}, {41, 41, 18, 18})[1], 319 / 389)
    near(core.fddb_overlaps({10, 10, 0, 50, 50}, {56, 41, 18, 18})[1], 63 / 645)
  end)
end)

describe("fddb: one-to-one matching", function()
  it("maximises the total weight (Hungarian method), for any matrix shape", function()
    -- greedy would pair face 1 with detection 1 (0.6) and lose face 2
    assert.are.same({2, 1}, core.hungarian({{0.6, 0.52}, {0.55, 0}}))
    assert.are.same({1, 2, 3}, core.hungarian({{1, 2, 3}, {2, 4, 6}, {3, 6, 9}}))
    assert.are.same({2}, core.hungarian({{0.1, 0.9, 0.5}}))
    assert.are.same({0, 1, 0}, core.hungarian({{0.1}, {0.9}, {0.5}}))
    assert.are.same({}, core.hungarian({}))
    assert.has_error(function() core.hungarian({{1, 2}, {3}}) end, "hungarian: row 2 has 1 weights, row 1 has 2")
    assert.has_error(function() core.hungarian({{0 / 0}}) end)
  end)
end)

describe("fddb: per-image results and their merge", function()
  -- faces A, B; detections d1 (0.9), d2 (0.8), d3 (0.3); d3 overlaps nothing
  local ov = {0.6, 0.52, 0, 0.55, 0, 0}
  local scores = {0.9, 0.8, 0.3}

  it("matches at every distinct score, as evaluate.cpp does", function()
    local res = fddb.results_from_overlaps(ov, 2, scores)
    assert.are.equal(3, #res)
    -- score >= 0.3: all three; A-d2 and B-d1 (total 1.07); d3 is a false positive
    assert.are.same({0.3, 2, 2, 1}, {res[1].threshold, res[1].n, res[1].tp_disc, res[1].fp})
    near(res[1].tp_cont, 1.07)
    -- >= 0.8: the same pairs, no false positive
    assert.are.same({0.8, 2, 0}, {res[2].threshold, res[2].tp_disc, res[2].fp})
    -- >= 0.9: d1 alone goes to A (0.6)
    assert.are.same({0.9, 1, 0}, {res[3].threshold, res[3].tp_disc, res[3].fp})
    near(res[3].tp_cont, 0.6)
    -- a pair at overlap 0.5 or less is continuous only
    res = fddb.results_from_overlaps({0.5}, 1, {1})
    assert.are.same({0, 1}, {res[1].tp_disc, res[1].fp})
    near(res[1].tp_cont, 0.5)
    -- no detections: one point at the largest double
    res = fddb.results_from_overlaps({}, 3, {})
    assert.are.same({{threshold = fddb.DBL_MAX, n = 3, tp_disc = 0, tp_cont = 0, fp = 0}}, res)
  end)

  it("sums images at every threshold of any image", function()
    local roc = fddb.merge({fddb.results_from_overlaps(ov, 2, scores), fddb.results_from_overlaps({}, 1, {})})
    assert.are.equal(3, roc.n)
    assert.are.same({0.3, 0.8, 0.9, fddb.DBL_MAX}, roc.threshold)
    assert.are.same({1, 0, 0, 0}, roc.fp)
    assert.are.same({2, 2, 1, 0}, roc.tp_disc)
    -- two images with interleaved scores
    roc = fddb.merge({fddb.results_from_overlaps({0.9}, 1, {0.5}), fddb.results_from_overlaps({0.8, 0}, 1, {0.7, 0.2})})
    assert.are.same({0.2, 0.5, 0.7}, roc.threshold)
    assert.are.same({2, 2, 1}, roc.tp_disc)
    assert.are.same({1, 0, 0}, roc.fp)
    -- TPR at k false positives: the best point with at most k, 0 when none has so few
    local curve = {fp = {4, 1, 0}, tpr = {0.9, 0.6, 0.2}}
    assert.are.same({0.2, 0.6, 0.6, 0.9}, {fddb.tpr_at(curve, 0), fddb.tpr_at(curve, 1),
                                           fddb.tpr_at(curve, 3), fddb.tpr_at(curve, 500)})
    assert.are.equal(0, fddb.tpr_at({fp = {3}, tpr = {1}}, 2))
  end)
end)

describe("fddb.evaluate on hand-made images", function()
  -- two images: a disc of radius 10 at (50, 50) in both, plus a second at (150, 50) in "b"
  local function gt()
    return fddb.make_gt({
      {name = "2002/08/11/big/img_1", ellipses = {{10, 10, 0, 50, 50}}},
      {name = "2002/08/11/big/img_2", ellipses = {{10, 10, 0, 50, 50}, {10, 10, 0, 150, 50}}},
    })
  end
  local SQ = 319 / 389 -- overlap of the 19x19 square around a disc (OpenCV's pixels)

  it("gives TPR 1 at no false positive for perfect detections, the mean overlap as continuous TPR", function()
    local preds = {
      ["2002/08/11/big/img_1"] = {boxes = {{41, 41, 18, 18, 0.9}}},
      ["2002/08/11/big/img_2"] = {boxes = {{41, 41, 18, 18, 0.8}, {141, 41, 18, 18, 0.7}}},
    }
    local r = fddb.evaluate(gt(), preds)
    assert.are.same({2, 3, 3}, {r.images, r.faces, r.detections})
    near(fddb.tpr_at(r.discrete, 0), 1)
    near(fddb.tpr_at(r.continuous, 0), SQ)
    assert.are.equal(0, r.max_fp)
    assert.are.equal(1, #r.warnings) -- sizes unknown: not clipped
  end)

  it("counts missing faces, shifted and false detections", function()
    local preds = {
      -- a square shifted by 15 pixels (overlap below 0.5) and a detection far away
      ["2002/08/11/big/img_1"] = {boxes = {{56, 41, 18, 18, 0.9}, {300, 300, 10, 10, 0.95}}},
      -- one of two faces found
      ["2002/08/11/big/img_2"] = {boxes = {{41, 41, 18, 18, 0.5}}},
    }
    local r = fddb.evaluate(gt(), preds)
    -- thresholds 0.5 (3 kept), 0.9 (2), 0.95 (1): false positives 2, 2, 1
    assert.are.same({0.5, 0.9, 0.95}, r.discrete.threshold)
    assert.are.same({2, 2, 1}, r.discrete.fp)
    near(r.discrete.tpr[1], 1 / 3)
    near(r.discrete.tpr[2], 0)
    local shifted = core.fddb_overlaps({10, 10, 0, 50, 50}, {56, 41, 18, 18})[1]
    assert.is_true(shifted > 0 and shifted < 0.5)
    near(r.continuous.tpr[1], (shifted + SQ) / 3)
    near(fddb.tpr_at(r.discrete, 1), 0)
    near(fddb.tpr_at(r.discrete, 2), 1 / 3)
  end)

  it("evaluates the images with detections, or all of them", function()
    local preds = {["2002/08/11/big/img_1"] = {boxes = {{41, 41, 18, 18, 0.9}}}}
    local r = fddb.evaluate(gt(), preds)
    assert.are.same({1, 1}, {r.images, r.faces})
    near(fddb.tpr_at(r.discrete, 0), 1)
    r = fddb.evaluate(gt(), preds, {subset = "all"})
    assert.are.same({2, 3}, {r.images, r.faces})
    near(fddb.tpr_at(r.discrete, 0), 1 / 3)
    -- the image without detections adds a point at the largest double
    assert.are.same({0.9, fddb.DBL_MAX}, r.discrete.threshold)
  end)

  it("clips regions to the image when its size is known", function()
    local g = fddb.make_gt({{name = "2002/08/11/big/img_3", ellipses = {{10, 10, 0, 95, 50}}}})
    local preds = {["2002/08/11/big/img_3"] = {boxes = {{86, 41, 18, 18, 1}}, width = 100, height = 100}}
    local r = fddb.evaluate(g, preds)
    assert.are.equal(0, #r.warnings)
    near(r.continuous.tpr[1], 246 / 287) -- cut at the image's right side
    preds["2002/08/11/big/img_3"].width = nil
    r = fddb.evaluate(g, preds)
    near(r.continuous.tpr[1], 319 / 389)
    assert.are.equal(1, #r.warnings)
  end)
end)

describe("fddb on the fold files", function()
  it("reads the ten ellipse lists", function()
    helper.need_shared("the FDDB folds")
    local g = assert(fddb.load_gt(helper.shared .. "/data/fddb/FDDB-folds"))
    assert.are.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, g.folds)
    assert.are.equal(2845, #g.images)
    assert.are.equal(5171, g.faces)
    local first = g.images[1]
    assert.are.equal("2002/08/11/big/img_591", first.name)
    assert.are.same({{123.5833, 85.5495, 1.265839, 269.6934, 161.7812}}, first.ellipses)
  end)

  it("refuses a malformed list with its line", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/FDDB-fold-01-ellipseList.txt", "2002/a\n1\n1 2 x 4 5 1\n")
    local g, err = fddb.load_gt(dir)
    assert.is_nil(g)
    assert.truthy(err:find("FDDB%-fold%-01%-ellipseList.txt:3: expected 'major minor angle cx cy 1'"), err)
    helper.rmdir(dir)
  end)
end)

describe("scripts/eval_fddb.lua", function()
  it("reads rectangle lists and JSON Lines, prints TPR at 500/1000/2000 FP, writes ROC files", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/FDDB-fold-01-ellipseList.txt",
      "2002/08/11/big/img_1\n1\n10 10 0 50 50 1\n2002/08/11/big/img_2\n2\n10 10 0 50 50 1\n10 10 0 150 50 1\n")
    helper.write_file(dir .. "/det.txt",
      "2002/08/11/big/img_1\n2\n41 41 18 18 0.9\n300 300 10 10 0.95\n2002/08/11/big/img_2\n1\n41 41 18 18 0.5\n")
    local out, code, err = helper.mtcnn(("scripts/eval_fddb.lua --pred %s --gt %s --json --roc %s")
      :format(helper.q(dir .. "/det.txt"), helper.q(dir), helper.q(dir .. "/r")))
    assert.are.equal(0, code, err)
    local r = assert(json.decode(out))
    helper.near(r.discrete.tpr_at_500, 2 / 3, 1e-12)
    helper.near(r.continuous.tpr_at_1000, 2 * 319 / 389 / 3, 1e-12)
    assert.are.same({2, 3, 3, 1}, {r.images, r.faces, r.detections, r.max_fp})
    -- thresholds 0.5 (both images), 0.9 (image 1: its face and the false one), 0.95 (the false one)
    assert.are.equal("0.6666666666666666 1 0.5\n0.3333333333333333 1 0.9\n0 1 0.95\n",
      helper.read_file(dir .. "/rDiscROC.txt"))
    -- the same detections as JSON Lines with the image size
    helper.write_file(dir .. "/det.jsonl",
      '{"image": "/fddb/originalPics/2002/08/11/big/img_1.jpg", "width": 400, "height": 300, "faces": ['
      .. '{"box": [41, 41, 58, 58], "score": 0.9}, {"box": [300, 300, 309, 309], "score": 0.95}]}\n'
      .. '{"image": "2002/08/11/big/img_2.jpg", "width": 400, "height": 300, "faces": [{"box": [41, 41, 58, 58], "score": 0.5}]}\n')
    out, code, err = helper.mtcnn(("scripts/eval_fddb.lua --pred %s --gt %s"):format(
      helper.q(dir .. "/det.jsonl"), helper.q(dir)))
    assert.are.equal(0, code, err)
    assert.truthy(out:find("discrete%s+0%.6667%s+0%.6667%s+0%.6667"), out)
    assert.are.equal("", err) -- sizes known: no warning
    _, code, err = helper.mtcnn(("scripts/eval_fddb.lua --pred %s --gt %s --folds 11"):format(
      helper.q(dir .. "/det.txt"), helper.q(dir)))
    assert.are.equal(2, code) -- a bad command line
    assert.truthy(err:find("--folds: each number must lie in [1, 10], got 11", 1, true), err)
    helper.rmdir(dir)
  end)
end)

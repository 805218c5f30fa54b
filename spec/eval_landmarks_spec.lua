-- Landmark error (mtcnn.eval.landmarks) and scripts/eval_landmarks.lua:
-- perfect, shifted and missing predictions with known NME, failure rate,
-- misses and CED.

local helper = require "helper"
local json = require "mtcnn.json"
local landmarks = require "mtcnn.eval.landmarks"

local function near(a, b, what) helper.near(a, b, 1e-12, what) end

-- Two faces with eyes 40 px apart (inter-ocular distance 40).
local LIST = table.concat({
  "net_7876\\a.jpg 100 200 50 150 130.0 90.0 170.0 90.0 150.0 110.0 135.0 130.0 165.0 130.0",
  "net_7876\\b.jpg 10 110 20 120 40 50 80 50 60 70 45 90 75 90",
}, "\r\n") .. "\r\n"

local function entries()
  local dir = helper.tmpdir()
  helper.write_file(dir .. "/list.txt", LIST)
  local e = assert(landmarks.read_list(dir .. "/list.txt"))
  helper.rmdir(dir)
  return e
end

-- Our JSON faces for an entry: its box and points, the points moved by (dx, dy).
local function face_of(e, dx, dy, box)
  local pts = {}
  for k = 1, 5 do pts[k] = {e.points[k][1] + dx, e.points[k][2] + dy} end
  return {box = box or {e.box[1], e.box[2], e.box[3], e.box[4]}, score = 0.99, landmarks = pts}
end

describe("landmarks.read_list", function()
  it("reads the testImageList format: CRLF, backslashes, box as left right top bottom", function()
    local e = entries()
    assert.are.equal(2, #e)
    assert.are.equal("net_7876/a.jpg", e[1].image)
    assert.are.equal("net_7876/a", e[1].key)
    assert.are.same({100, 50, 200, 150}, e[1].box) -- x1 y1 x2 y2
    assert.are.same({{130, 90}, {170, 90}, {150, 110}, {135, 130}, {165, 130}}, e[1].points)
  end)

  it("refuses a short line with its number", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/bad.txt", "a.jpg 1 2 3 4 5\n")
    local e, err = landmarks.read_list(dir .. "/bad.txt")
    assert.is_nil(e)
    assert.truthy(err:find("bad.txt:1: expected 'path left right top bottom' and 5 points %(15 fields%), got 6"), err)
    helper.rmdir(dir)
  end)

  it("reads the development list of ../shared", function()
    helper.need_shared("the landmark list")
    local e = assert(landmarks.read_list(helper.shared .. "/data/landmarks/testImageList.dev.txt"))
    assert.are.equal(1014, #e)
    assert.are.equal("net_7876/1016_0_0.jpg", e[1].image)
    assert.are.same({104, 100, 292, 288}, e[1].box)
    assert.are.same({151, 151}, e[1].points[1])
    assert.are.same({248, 242}, e[1].points[5])
  end)
end)

describe("landmarks.evaluate", function()
  it("gives error 0 for perfect predictions", function()
    local e = entries()
    local r = assert(landmarks.evaluate(e, {[e[1].key] = {face_of(e[1], 0, 0)}, [e[2].key] = {face_of(e[2], 0, 0)}}))
    assert.are.same({2, 2, 0, 0}, {r.evaluated, r.matched, r.misses, r.failures})
    assert.are.equal(0, r.nme)
    assert.are.equal(0, r.failure_rate)
    assert.are.equal(1, r.auc)
    for _, name in ipairs(landmarks.POINTS) do assert.are.equal(0, r.per_point[name]) end
  end)

  it("gives the shift over the inter-ocular distance for shifted points", function()
    local e = entries()
    -- face a: every point 2 px right (0.05); face b: 3 right and 4 down (5 px = 0.125: a failure)
    local r = assert(landmarks.evaluate(e, {[e[1].key] = {face_of(e[1], 2, 0)}, [e[2].key] = {face_of(e[2], 3, 4)}}))
    near(r.nme, (0.05 + 0.125) / 2)
    near(r.median_nme, (0.05 + 0.125) / 2)
    near(r.per_point.nose, (0.05 + 0.125) / 2)
    assert.are.equal(1, r.failures)
    near(r.failure_rate, 0.5)
    -- CED: half the faces at 0.05, all at 0.125; area to 0.1 = (0.1 - 0.05) * 0.5 / 0.1
    assert.are.equal(2, #r.ced.nme)
    near(r.ced.nme[1], 0.05)
    near(r.ced.nme[2], 0.125)
    assert.are.same({0.5, 1}, r.ced.fraction)
    near(r.auc, 0.25)
  end)

  it("takes the detection with the highest IoU and counts a miss below IoU 0.4", function()
    local e = entries()
    local good = face_of(e[1], 1, 0)
    local worse = face_of(e[1], 20, 20, {120, 50, 220, 150}) -- IoU 81 * 101 / (2 * 101^2 - 81 * 101)
    local far = face_of(e[2], 0, 0, {60, 20, 160, 120})         -- IoU 51 / 151 < 0.4
    local r = assert(landmarks.evaluate(e, {[e[1].key] = {worse, good}, [e[2].key] = {far}}))
    assert.are.same({1, 1}, {r.matched, r.misses})
    near(r.nme, 1 / 40)
    near(r.miss_rate, 0.5)
    near(landmarks.iou({0, 0, 9, 9}, {5, 0, 14, 9}), 50 / 150)
  end)

  it("leaves out images without predictions and refuses a match without landmarks", function()
    local e = entries()
    local r = assert(landmarks.evaluate(e, {[e[2].key] = {face_of(e[2], 0, 0)}}))
    assert.are.same({1, 1, 1}, {r.evaluated, r.unpredicted, #r.warnings})
    local bare = {box = {10, 20, 110, 120}, score = 1}
    local ok, err = landmarks.evaluate(e, {[e[2].key] = {bare}})
    assert.is_nil(ok)
    assert.truthy(err:find("net_7876/b.jpg %(line 2%): the matched detection has no 5 landmarks"), err)
  end)

  it("runs a detector callback on every image", function()
    local e = entries()
    local seen = {}
    local r = assert(landmarks.evaluate_with_detector(e, "/root", function(path)
      seen[#seen + 1] = path
      for _, x in ipairs(e) do
        if path == "/root/" .. x.image then return {face_of(x, 0, 2)} end
      end
    end))
    assert.are.same({"/root/net_7876/a.jpg", "/root/net_7876/b.jpg"}, seen)
    near(r.nme, 2 / 40)
    -- an image the detector cannot read is skipped with a warning; the other one still counts
    local r2 = assert(landmarks.evaluate_with_detector(e, "/root", function(path)
      if path:find("a.jpg", 1, true) then return nil, "cannot decode" end
      for _, x in ipairs(e) do
        if path == "/root/" .. x.image then return {face_of(x, 0, 2)} end
      end
    end))
    assert.are.equal(1, r2.unreadable)
    assert.are.equal(1, r2.evaluated)
    local found = false
    for _, w in ipairs(r2.warnings) do
      if w == "skipped: net_7876/a.jpg: cannot decode" then found = true end
    end
    assert.is_true(found)
  end)
end)

describe("scripts/eval_landmarks.lua", function()
  it("scores JSON Lines predictions and detects itself without them", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/list.txt", LIST)
    local e = entries()
    local lines = {}
    for i, x in ipairs(e) do
      lines[i] = json.encode({image = "/data/" .. x.image, faces = {face_of(x, i + 1, 0)}})
    end
    helper.write_file(dir .. "/p.jsonl", table.concat(lines, "\n") .. "\n")
    local out, code, err = helper.mtcnn(("scripts/eval_landmarks.lua --list %s --pred %s --json --save %s")
      :format(helper.q(dir .. "/list.txt"), helper.q(dir .. "/p.jsonl"), helper.q(dir .. "/r.json")))
    assert.are.equal(0, code, err)
    local r = assert(json.decode(out))
    near(r.nme, (2 / 40 + 3 / 40) / 2)
    assert.are.same({0, 2, 0}, {r.misses, r.matched, r.failure_rate})
    near(r.per_point.left_eye, 0.0625)
    out, code, err = helper.mtcnn(("scripts/eval_landmarks.lua --list %s --pred %s --plot %s --compare %s")
      :format(helper.q(dir .. "/list.txt"), helper.q(dir .. "/p.jsonl"), helper.q(dir .. "/ced.png"),
        helper.q(dir .. "/r.json")), "MTCNN_GNUPLOT=/nonexistent/gnuplot")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("NME %(inter%-ocular%): mean 0%.0625"), out)
    assert.truthy(err:find("no picture: gnuplot is not available"), err)
    -- without --pred the bundled detector runs; here the listed images do not exist
    _, code, err = helper.mtcnn(("scripts/eval_landmarks.lua --list %s"):format(helper.q(dir .. "/list.txt")))
    assert.are.equal(1, code)
    assert.truthy(err:find("skipped: net_7876/a.jpg"), err)
    assert.truthy(err:find("no listed image has predictions"), err)
    -- one warning for all the unreadable images, and one hint
    local _, skipped = err:gsub("skipped:", "")
    assert.are.equal(1, skipped)
    assert.truthy(err:find("and 1 more image that could not be read", 1, true), err)
    assert.truthy(err:find("give their folder with --root", 1, true), err)
    helper.rmdir(dir)
  end)
end)

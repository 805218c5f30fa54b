-- The cascade with the bundled original model reproduces the reference
-- detections (../shared/models/golden/detections_min*.json).
local mtcnn = require "mtcnn"
local json = require "mtcnn.json"
local box = require "mtcnn.box"
local helper = require "helper"

local detector = mtcnn.detector

-- Matches our faces to the golden ones (MATLAB 1-based: minus 1) and returns
-- the worst IoU, landmark distance and score difference.
local function compare(faces, golden)
  local used, worst_iou, worst_lm, worst_score = {}, 1, 0, 0
  for k, g in ipairs(golden.boxes) do
    local gb = {g[1] - 1, g[2] - 1, g[3] - 1, g[4] - 1}
    local best, bi = -1, nil
    for i, f in ipairs(faces) do
      local o = box.iou(gb, {f.box})[1]
      if not used[i] and o > best then best, bi = o, i end
    end
    if not bi then return 0, math.huge, math.huge end
    used[bi] = true
    worst_iou = math.min(worst_iou, best)
    worst_score = math.max(worst_score, math.abs(faces[bi].score - g[5]))
    local p = golden["points_x1..x5_y1..y5"][k]
    for j = 1, 5 do
      local dx = faces[bi].landmarks[j][1] - (p[j] - 1)
      local dy = faces[bi].landmarks[j][2] - (p[j + 5] - 1)
      worst_lm = math.max(worst_lm, math.sqrt(dx * dx + dy * dy))
    end
  end
  return worst_iou, worst_lm, worst_score
end

describe("detector", function()
  it("loads the bundled model and finds the astronaut's face", function()
    local det = assert(detector.new())
    local faces = det:detect(helper.home .. "/examples/astronaut.png")
    assert.are.equal(1, #faces)
    local f = faces[1]
    assert.is_true(f.score > 0.99)
    -- the face is in the upper middle of the 512x512 portrait
    assert.is_true(f.box[1] > 150 and f.box[3] < 300 and f.box[2] > 30 and f.box[4] < 200)
    -- left eye left of right eye, both above the nose, mouth corners below it
    local le, re, nose, lm, rm = table.unpack(f.landmarks)
    assert.is_true(le[1] < re[1] and lm[1] < rm[1])
    assert.is_true(le[2] < nose[2] and re[2] < nose[2] and nose[2] < lm[2] and nose[2] < rm[2])
    assert.is_true(det.stats.pnet.windows > 0 and det.stats.onet.kept == 1)
  end)

  for _, min_face in ipairs({20, 40}) do
    it(("reproduces the reference cascade at min face %d on every test image"):format(min_face), function()
      helper.need_shared("the golden detections")
      local det = assert(detector.new{min_face = min_face})
      local golden = assert(json.read_file(("%s/models/golden/detections_min%d.json"):format(helper.shared,
        min_face)))
      assert.are.equal(6, #golden.results)
      for _, r in ipairs(golden.results) do
        local path = helper.shared .. "/models/golden/" .. r.image
        local faces = det:detect(assert(mtcnn.image.load(path)))
        assert.are.equal(#r.boxes, #faces, r.image)
        local iou, lm, score = compare(faces, r)
        assert(iou >= 0.95, ("%s: IoU %.4f"):format(r.image, iou))
        assert(lm <= 1.5, ("%s: landmarks off by %.3f px"):format(r.image, lm))
        assert(score <= 0.01, ("%s: score off by %.4f"):format(r.image, score))
      end
    end)
  end

  it("gives the same faces for a batch of images as one by one", function()
    helper.need_shared("the test images")
    local det = assert(detector.new())
    local names = {"kpzhang_test1.jpg", "multiface_640x480.png", "facenet_pilatus800.jpg"}
    local ims = {}
    for i, n in ipairs(names) do ims[i] = assert(mtcnn.image.load(helper.shared .. "/images/" .. n)) end
    local batch = det:detect_batch(ims)
    assert.are.equal(3, #batch)
    for i, im in ipairs(ims) do
      local single = det:detect(im)
      assert.are.equal(#single, #batch[i], names[i])
      -- the same up to float rounding (the nets' sums run in another order for other batch sizes)
      for k, f in ipairs(single) do
        for j = 1, 4 do helper.near(f.box[j], batch[i][k].box[j], 1e-3, names[i] .. " box") end
        helper.near(f.score, batch[i][k].score, 1e-5, names[i] .. " score")
      end
    end
  end)

  it("moves landmarks by at most a couple of pixels with flip averaging", function()
    helper.need_shared("the test images")
    local img = assert(mtcnn.image.load(helper.shared .. "/images/multiface_640x480.png"))
    local plain = assert(detector.new()):detect(img)
    local flipped = assert(detector.new{flip_landmarks = true}):detect(img)
    assert.are.equal(#plain, #flipped)
    local moved, worst = 0, 0
    for k, f in ipairs(plain) do
      assert.are.same(f.box, flipped[k].box)
      for j = 1, 5 do
        local d = math.abs(f.landmarks[j][1] - flipped[k].landmarks[j][1]) +
                  math.abs(f.landmarks[j][2] - flipped[k].landmarks[j][2])
        worst = math.max(worst, d)
        if d > 0 then moved = moved + 1 end
      end
    end
    assert.is_true(moved > 0)
    assert.is_true(worst < 4, ("worst move %.2f px"):format(worst))
  end)

  it("uses presets and lets explicit options win", function()
    local det = assert(detector.new{preset = "wider", thresholds = {0.9, 0.9, 0.9}})
    assert.are.equal(10, det.min_face)
    assert.are.equal(0.79, det.factor)
    assert.are.same({0.9, 0.9, 0.9}, det.thresholds)
    local seed = assert(detector.new{preset = "seed"})
    assert.are.same({0.5, 0.7, 0.6, 0.6}, seed.nms)
    assert.are.same({1}, {#detector.new():scales(11, 100) == 0 and 1 or 0})
    -- the original's pyramid for 480 rows at min face 20: 10 levels from 0.6
    local s = detector.new():scales(480, 640)
    assert.are.equal(10, #s)
    assert.are.equal(0.6, s[1])
    helper.near(0.6 * 0.709 ^ 9, s[10], 1e-12)
  end)

  it("rejects bad options and reports a bad model folder", function()
    assert.has_error(function() detector.new{min_face = -1} end, "detector.new: min_face must lie in [1, inf), got -1")
    assert.has_error(function() detector.new{preset = "nope"} end,
      "detector: unknown preset 'nope' (original, seed, wider)")
    assert.has_error(function() detector.new{thresholds = {0.5}} end,
      "detector.new: thresholds must be a list of 3 numbers, got 1 item(s)")
    assert.has_error(function() detector.new{colour = 1} end, "detector: unknown option 'colour'")
    local dir = helper.tmpdir()
    local det, err = detector.new{model = dir}
    assert.is_nil(det)
    assert.matches("manifest.json", err, 1, true)
    helper.write_file(dir .. "/manifest.json", '{"nets": {"pnet": "p.mtn", "rnet": "r.mtn", "onet": "o.mtn"}}')
    helper.write_file(dir .. "/p.mtn", "not a model")
    det, err = detector.new{model = dir}
    assert.is_nil(det)
    assert.matches("p.mtn", err, 1, true)
    helper.rmdir(dir)
  end)

  it("returns no faces for an image without any", function()
    local blank = mtcnn.image.new(64, 48, {128, 128, 128})
    assert.are.same({}, assert(detector.new()):detect(blank))
    local tiny = mtcnn.image.new(8, 8)
    assert.are.same({}, assert(detector.new()):detect(tiny)) -- smaller than one PNet window
  end)
  it("keeps input buffers of the last two calls only", function()
    local det = assert(detector.new())
    local img = mtcnn.image.load(helper.home .. "/examples/astronaut.png")
    local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end
    local first = det:detect(img)
    local held = count(det.buffers)
    assert.is_true(held >= 10) -- the pyramid levels and the RNet/ONet crops
    -- the same image again reuses every buffer: the same tensors, the same faces
    local level = det.buffers["pnet:1x3x308x308"]
    assert.is_not_nil(level)
    assert.are.same(first, det:detect(img))
    assert.are.equal(level, det.buffers["pnet:1x3x308x308"])
    -- images of many sizes do not pile buffers up
    for k = 1, 12 do det:detect(img:resize(512 - 8 * k, 512 - 5 * k)) end
    assert.is_true(count(det.buffers) + count(det.spare) <= 2 * (held + 2))
  end)
end)

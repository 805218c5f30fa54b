-- The detector's inputs, face selection, clipping and crops (mtcnn.faces), on pictures made
-- from the bundled astronaut: no ../shared needed.
local mtcnn = require "mtcnn"
local helper = require "helper"

local detector, image, T = mtcnn.detector, mtcnn.image, mtcnn.tensor
local faces = require "mtcnn.faces"

local astronaut = helper.home .. "/examples/astronaut.png"

-- Two astronauts side by side: a big face on the left, a smaller one right of the centre.
local function two_faces()
  local a = assert(image.load(astronaut))
  local pic = image.new(1024, 512, {90, 90, 90})
  pic:paste(a, 0, 0)
  pic:paste(a:resize(256, 256), 560, 60)
  return pic
end

local function area(f) return (f.box[3] - f.box[1] + 1) * (f.box[4] - f.box[2] + 1) end

local function same_faces(a, b)
  assert.are.equal(#a, #b)
  for i = 1, #a do
    assert.are.equal(a[i].score, b[i].score)
    for k = 1, 4 do assert.are.equal(a[i].box[k], b[i].box[k]) end
  end
end

describe("detector inputs", function()
  local det, img
  setup(function()
    det = assert(detector.new())
    img = assert(image.load(astronaut))
  end)

  it("takes an image, a path, a [3,H,W] tensor and RGB bytes alike", function()
    local ref = det:detect(img)
    assert.are.equal(1, #ref)
    same_faces(ref, det:detect(astronaut))
    same_faces(ref, det:detect(img:to_tensor()))
    same_faces(ref, det:detect(img:to_tensor():view(1, 3, img.height, img.width)))
    same_faces(ref, det:detect(img:to_string(), img.width, img.height))
    local batch = det:detect_batch({img, {rgb = img:to_string(), width = img.width, height = img.height},
      astronaut, img:to_tensor()})
    for i = 1, 4 do same_faces(ref, batch[i]) end
  end)

  it("raises naming what it got for anything else", function()
    local function err_of(...)
      local ok, e = pcall(det.detect, det, ...)
      assert.is_false(ok)
      return e
    end
    assert.matches("detect: expected an mtcnn.Image, an image path, a %[3,H,W%] tensor .*; got nil", err_of(nil))
    assert.matches("got a number", err_of(42))
    assert.matches("got a table without rgb, width and height", err_of({}))
    assert.matches("a tensor must be %[3,H,W%] or %[1,3,H,W%] .* got 2x3", err_of(T.ones(2, 3)))
    assert.matches("detect: .*absent%.png", err_of(helper.home .. "/absent.png"))
    assert.matches("2x2 RGB needs 12 bytes, got 3", err_of("abc", 2, 2))
    assert.matches("positive integer width and height", err_of("abc", 2))
    local ok, e = pcall(det.detect_batch, det, img)
    assert.is_false(ok)
    assert.matches("detect_batch: expected a list of images", e)
  end)

  it("gives each image its own time, adding up to the call's", function()
    local pic = two_faces()
    det:detect_batch({img, pic})
    local ms = det.stats.image_ms
    assert.are.equal(2, #ms)
    assert.is_true(ms[1] > 0 and ms[2] > 0)
    helper.near(ms[1] + ms[2], det.stats.ms, 1e-6 * det.stats.ms, "sum of image times")
    -- twice the pixels and faces: more time (the least of three calls, as the machine is shared)
    local least = {ms[1], ms[2]}
    for _ = 1, 2 do
      det:detect_batch({img, pic})
      for i = 1, 2 do least[i] = math.min(least[i], det.stats.image_ms[i]) end
    end
    assert.is_true(least[2] > least[1])
    det:detect(img)
    helper.near(det.stats.image_ms[1], det.stats.ms, 1e-9, "one image")
  end)
end)

describe("detector selection", function()
  local pic, all
  setup(function()
    pic = two_faces()
    all = assert(detector.new()):detect(pic)
    assert.are.equal(2, #all)
  end)

  it("keeps every face by default, best score first", function()
    assert.is_true(all[1].score >= all[2].score)
  end)

  it("picks the largest, the best or the one nearest the centre", function()
    local big = assert(detector.new{select = "largest"}):detect(pic)
    assert.are.equal(1, #big)
    assert.are.equal(math.max(area(all[1]), area(all[2])), area(big[1]))
    assert.is_true(big[1].box[1] < 300) -- the big face is on the left
    local centre = assert(detector.new{select = "center"}):detect(pic)
    assert.are.equal(1, #centre)
    assert.is_true(centre[1].box[1] > 500) -- the small one is nearer the centre
    local best = assert(detector.new{select = "best"}):detect(pic)
    same_faces({all[1]}, best)
    local both = assert(detector.new{select = "largest", max_faces = 5}):detect(pic)
    assert.are.equal(2, #both)
    assert.is_true(area(both[1]) > area(both[2]))
  end)

  it("cuts the list with max_faces and min_score", function()
    same_faces({all[1]}, assert(detector.new{max_faces = 1}):detect(pic))
    local floor = (all[1].score + all[2].score) / 2
    local high = assert(detector.new{min_score = floor}):detect(pic)
    if all[1].score > all[2].score then
      same_faces({all[1]}, high)
    end
    assert.are.equal(0, #assert(detector.new{min_score = 1.5}):detect(pic))
  end)

  it("clips boxes to the image when asked", function()
    local cut = assert(image.load(astronaut)):crop(200, 0, 511, 511) -- the face's left part is gone
    local raw = assert(detector.new()):detect(cut)
    assert.are.equal(1, #raw)
    assert.is_true(raw[1].box[1] < 0)
    local clipped = assert(detector.new{clip = true}):detect(cut)
    assert.are.equal(0, clipped[1].box[1])
    for k = 2, 4 do assert.are.equal(raw[1].box[k], clipped[1].box[k]) end
    assert.is_true(clipped[1].box[3] <= cut.width - 1 and clipped[1].box[4] <= cut.height - 1)
  end)

  it("rejects bad selection options", function()
    for _, o in ipairs({{select = "biggest"}, {max_faces = 0}, {max_faces = 1.5}, {min_score = "x"},
                        {clip = 1}}) do
      local ok, e = pcall(detector.new, o)
      assert.is_false(ok)
      assert.matches("^detector%.new: ", e:gsub("^[^:]*:%d+: ", ""))
    end
  end)

  it("applies to partial cascades too", function()
    local n = #assert(detector.new{stages = 1}):detect(pic)
    assert.is_true(n > 3)
    assert.are.equal(3, #assert(detector.new{stages = 1, max_faces = 3}):detect(pic))
  end)
end)

describe("detector crops", function()
  local det, img
  setup(function()
    det = assert(detector.new())
    img = assert(image.load(astronaut))
  end)

  it("crops the boxes into one N x 3 x S x S batch", function()
    local batch, found = det:crops(two_faces(), {size = 64})
    assert.are.same({2, 3, 64, 64}, batch:size())
    assert.are.equal(2, #found)
    -- the first row is the first face's box resized, normalised as to_tensor
    local pic = two_faces()
    local b = found[1].box
    local function r(v) return math.floor(v + 0.5) end
    local want = pic:crop_resize({{r(b[1]), r(b[2]), r(b[3]), r(b[4])}}, 64)
    assert.is_true(batch:narrow(1, 1, 1):equal(want))
  end)

  it("grows the box by the margin as facenet-pytorch counts it", function()
    local f = det:detect(img)[1]
    local size, margin = 100, 20
    local batch = faces.crop(img, {f}, {size = size, margin = margin})
    local w, h = f.box[3] - f.box[1], f.box[4] - f.box[2]
    local mx, my = margin * w / (size - margin) / 2, margin * h / (size - margin) / 2
    local function r(v) return math.floor(v + 0.5) end
    local want = img:crop_resize({{r(f.box[1] - mx), r(f.box[2] - my), r(f.box[3] + mx), r(f.box[4] + my)}}, size)
    assert.is_true(batch:equal(want))
    -- a square crop: the box made square about its centre first
    local sq = faces.crop(img, {f}, {size = size, square = true, normalize = false})
    assert.is_true(sq:max() > 1) -- pixel values
  end)

  it("aligns with the five-point template, the same as img:align_face without a margin", function()
    local batch, found = det:crops(img, {mode = "aligned", size = 112})
    assert.are.same({1, 3, 112, 112}, batch:size())
    local aligned = img:align_face(found[1].landmarks, {size = 112})
    assert.is_true(batch:select(1, 1):equal(aligned:to_tensor()))
    -- with a margin the eyes move towards the centre
    local m = faces.crop(img, found, {mode = "aligned", size = 112, margin = 32})
    assert.is_false(m:equal(batch))
    local inner = image.from_tensor(m:select(1, 1)):crop(16, 16, 95, 95)
    local direct = img:align_face(found[1].landmarks, {size = 80})
    assert.is_true(inner:max_abs_diff(direct) <= 40) -- the same face, resampled
  end)

  it("returns an empty batch without faces and refuses aligned crops without landmarks", function()
    local batch, found = det:crops(image.new(200, 200, {0, 0, 0}), {size = 32})
    assert.are.equal(0, #found)
    assert.are.same({0, 3, 32, 32}, batch:size())
    local partial = assert(detector.new{stages = 2, max_faces = 1})
    local ok, e = pcall(partial.crops, partial, img, {mode = "aligned"})
    assert.is_false(ok)
    assert.matches("no landmarks", e)
    ok, e = pcall(faces.crop, img, {}, {size = 32, margin = 32})
    assert.is_false(ok)
    assert.matches("margin must lie in", e)
  end)
end)

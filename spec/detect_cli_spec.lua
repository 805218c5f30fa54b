-- scripts/detect.lua: JSON Lines, resuming, pictures, aligned crops, bad inputs.
local helper = require "helper"
local json = require "mtcnn.json"
local q = helper.q

describe("detect.lua", function()
  local dir, astronaut
  before_each(function()
    dir = helper.tmpdir()
    astronaut = dir .. "/in/astronaut.png"
    os.execute("mkdir -p " .. q(dir .. "/in/sub"))
    os.execute("cp " .. q(helper.home .. "/examples/astronaut.png") .. " " .. q(astronaut))
    os.execute("cp " .. q(astronaut) .. " " .. q(dir .. "/in/sub/copy.png"))
    helper.write_file(dir .. "/in/broken.jpg", "this is not a picture")
  end)
  after_each(function() helper.rmdir(dir) end)

  -- The image records of a JSON Lines output, after its settings line (checked to be first).
  local function lines(path)
    local out = {}
    for l in helper.read_file(path):gmatch("[^\n]+") do out[#out + 1] = assert(json.decode(l)) end
    assert.is_table(out[1].mtcnn, "the first line records the settings")
    table.remove(out, 1)
    return out
  end

  it("writes one JSON object per image with 0-based boxes and five landmarks", function()
    local _, code = helper.mtcnn("scripts/detect.lua --quiet --json " .. q(dir .. "/o.jsonl") .. " " .. q(astronaut))
    assert.are.equal(0, code)
    local recs = lines(dir .. "/o.jsonl")
    assert.are.equal(1, #recs)
    local r = recs[1]
    assert.are.equal(astronaut, r.image)
    assert.are.equal(512, r.width)
    assert.are.equal(512, r.height)
    assert.are.equal(1, #r.faces)
    local f = r.faces[1]
    assert.are.equal(4, #f.box)
    assert.is_true(f.box[1] < f.box[3] and f.box[2] < f.box[4])
    assert.are.equal(5, #f.landmarks)
    assert.are.equal(2, #f.landmarks[1])
    assert.is_true(f.score > 0.99 and f.score <= 1)
    -- the keys come in the documented order, after the settings line
    assert.matches('^{"mtcnn":[^\n]*}\n{"image":.*"width":.*"height":.*"faces":%[{"box":.*"score":.*"landmarks":',
      helper.read_file(dir .. "/o.jsonl"))
  end)

  it("skips unreadable images (naming them, status 1), walks folders and reads list files", function()
    helper.write_file(dir .. "/list.txt", "in/astronaut.png\n\n# a comment\nin/sub/copy.png\r\n")
    local _, code, err = helper.mtcnn("scripts/detect.lua --quiet --json " .. q(dir .. "/a.jsonl") ..
      " " .. q(dir .. "/in"))
    assert.are.equal(1, code) -- some inputs failed, the rest done
    assert.matches("skipped: .*broken.jpg", err)
    assert.matches("1 input%(s%) failed", err)
    local recs = lines(dir .. "/a.jsonl")
    assert.are.equal(2, #recs)
    _, code = helper.mtcnn("scripts/detect.lua --quiet --json " .. q(dir .. "/b.jsonl") .. " " .. q(dir .. "/list.txt"))
    assert.are.equal(0, code)
    recs = lines(dir .. "/b.jsonl")
    assert.are.equal(2, #recs)
    assert.are.equal(dir .. "/in/sub/copy.png", recs[2].image)
  end)

  it("resumes after an interrupted run, repairing a torn last line", function()
    local out = dir .. "/r.jsonl"
    os.remove(dir .. "/in/broken.jpg")
    local _, code = helper.mtcnn("scripts/detect.lua --quiet --json " .. q(out) .. " " .. q(dir .. "/in"))
    assert.are.equal(0, code)
    local full = helper.read_file(out)
    local first_line = full:match("^[^\n]+\n[^\n]+\n") -- the settings and the first image
    -- as if killed while writing the second record
    helper.write_file(out, first_line .. full:sub(#first_line + 1, #first_line + 40))
    local _, code2, err = helper.mtcnn("scripts/detect.lua --quiet --resume --json " .. q(out) .. " " .. q(dir .. "/in"))
    assert.are.equal(0, code2)
    assert.matches("dropped 0 damaged line%(s%) and 40 bytes of a torn last line", err)
    assert.matches("resuming: 1 images already", err)
    local recs = lines(out)
    assert.are.equal(2, #recs)
    assert.are_not.equal(recs[1].image, recs[2].image)
    -- a second resume has nothing left to do and changes nothing
    local before = helper.read_file(out)
    helper.mtcnn("scripts/detect.lua --quiet --resume --json " .. q(out) .. " " .. q(dir .. "/in"))
    assert.are.equal(before, helper.read_file(out))
  end)

  it("draws pictures and writes aligned face crops", function()
    local _, code = helper.mtcnn("scripts/detect.lua --quiet --draw " .. q(dir .. "/d") .. " --align " ..
      q(dir .. "/al") .. " --align-size 96 " .. q(astronaut))
    assert.are.equal(0, code)
    local image = require("mtcnn").image
    local pic = assert(image.load(dir .. "/d/astronaut_det.png"))
    assert.are.equal(512, pic.width)
    local orig = assert(image.load(astronaut))
    assert.is_true(pic:max_abs_diff(orig) > 100) -- something was drawn
    local crop = assert(image.load(dir .. "/al/astronaut_face1.png"))
    assert.are.equal(96, crop.width)
    assert.are.equal(96, crop.height)
  end)

  it("gives the same results with images detected in groups as one by one", function()
    os.remove(dir .. "/in/broken.jpg")
    local input = q(dir .. "/in")
    local _, c1 = helper.mtcnn("scripts/detect.lua --quiet --batch 1 --json " .. q(dir .. "/one.jsonl") .. " " .. input)
    local _, c4 = helper.mtcnn("scripts/detect.lua --quiet --batch 4 --json " .. q(dir .. "/four.jsonl") .. " " .. input)
    assert.are.equal(0, c1)
    assert.are.equal(0, c4)
    local a, b = lines(dir .. "/one.jsonl"), lines(dir .. "/four.jsonl")
    assert.are.equal(#a, #b)
    for i = 1, #a do
      assert.are.equal(a[i].image, b[i].image) -- the same order
      assert.are.equal(#a[i].faces, #b[i].faces)
      for k, f in ipairs(a[i].faces) do
        for j = 1, 4 do helper.near(f.box[j], b[i].faces[k].box[j], 0.01, "box") end
      end
    end
  end)

  it("runs a partial cascade with --stages: the stage's boxes, no landmarks", function()
    local _, code = helper.mtcnn("scripts/detect.lua --quiet --stages pnet --json " .. q(dir .. "/p.jsonl") ..
      " " .. q(astronaut))
    assert.are.equal(0, code)
    local r = lines(dir .. "/p.jsonl")[1]
    assert.is_true(#r.faces > 1)
    for _, f in ipairs(r.faces) do
      assert.are.equal(4, #f.box)
      assert.is_nil(f.landmarks)
    end
    local _, code2, err = helper.mtcnn("scripts/detect.lua --stages 2 --align " .. q(dir .. "/al") .. " " .. q(astronaut))
    assert.are.equal(2, code2) -- a bad command line
    assert.matches("%-%-align needs landmarks", err)
  end)

  -- Two astronauts side by side (a big face, a small one), written as a PNG.
  local function two_faces_png()
    local image = require("mtcnn").image
    local a = assert(image.load(astronaut))
    local pic = image.new(1024, 512, {90, 90, 90})
    pic:paste(a, 0, 0)
    pic:paste(a:resize(256, 256), 560, 60)
    local path = dir .. "/two.png"
    assert(pic:save(path))
    return path
  end

  it("prints each image's faces on stdout with the image's own time", function()
    local image = require("mtcnn").image
    local small = dir .. "/small.png"
    assert(assert(image.load(astronaut)):resize(128, 128):save(small))
    local out, code, err = helper.mtcnn("scripts/detect.lua " .. q(astronaut) .. " " .. q(small))
    assert.are.equal(0, code)
    local big_ms = tonumber(out:match("astronaut%.png  512x512  1 face  ([%d.]+) ms\n  xyxy [%d. ]+  score 0%.99"))
    local small_ms = tonumber(out:match("small%.png  128x128  %d faces?  ([%d.]+) ms"))
    assert.is_number(big_ms, out)
    assert.is_number(small_ms, out)
    assert.is_true(big_ms > small_ms) -- not the batch's average
    assert.matches("2 images", err) -- the summary stays on stderr
  end)

  it("writes JSON to stdout with --json -, the settings line first", function()
    local out, code = helper.mtcnn("scripts/detect.lua --json - --min-face 30 " .. q(astronaut))
    assert.are.equal(0, code)
    assert.is_false(helper.exists("-"))
    local first, second = out:match("^([^\n]+)\n([^\n]+)\n$")
    local head = assert(json.decode(first)).mtcnn
    assert.are.equal(require("mtcnn").version, head.version)
    assert.are.equal(30, head.detector.min_face)
    assert.are.same({0.6, 0.7, 0.7}, head.detector.thresholds)
    assert.are.equal("xyxy", head.output.box_format)
    local det = assert(require("mtcnn").detector.new())
    assert.are.equal(det:model_info().checksum, head.model.checksum)
    assert.matches("^crc32c:%x+$", head.model.checksum)
    assert.are.equal(astronaut, assert(json.decode(second)).image)
  end)

  it("writes boxes as xywh and landmarks by name or as a list, and the evaluators read both", function()
    local a, b = dir .. "/a.jsonl", dir .. "/b.jsonl"
    assert.are.equal(0, select(2, helper.mtcnn("scripts/detect.lua --quiet --json " .. q(a) .. " " .. q(astronaut))))
    assert.are.equal(0, select(2, helper.mtcnn("scripts/detect.lua --quiet --box-format xywh --landmarks named --json " ..
      q(b) .. " " .. q(astronaut))))
    local fa, fb = lines(a)[1].faces[1], lines(b)[1].faces[1]
    assert.are.equal(5, #fa.landmarks)
    assert.are.same(fa.landmarks[1], fa.keypoints.left_eye) -- both forms by default
    assert.are.same(fa.landmarks[5], fa.keypoints.mouth_right)
    assert.is_nil(fb.landmarks)
    assert.are.same(fa.landmarks[3], fb.keypoints.nose)
    helper.near(fb.box[3], fa.box[3] - fa.box[1] + 1, 2e-3, "width")
    helper.near(fb.box[4], fa.box[4] - fa.box[2] + 1, 2e-3, "height")
    local predictions = require "mtcnn.eval.predictions"
    local ra, rb = assert(predictions.read_jsonl(a)), assert(predictions.read_jsonl(b))
    assert.are.equal(1, #ra)
    for k = 1, 4 do helper.near(ra[1].faces[1].box[k], rb[1].faces[1].box[k], 2e-3, "box") end
    assert.are.same(ra[1].faces[1].landmarks, rb[1].faces[1].landmarks)
  end)

  it("chooses faces with --largest, --select, --top-k, --min-score and clips with --clip", function()
    local two = two_faces_png()
    local function faces_of(flags)
      local out, code, err = helper.mtcnn("scripts/detect.lua --json - " .. flags .. " " .. q(two))
      assert.are.equal(0, code, err)
      return assert(json.decode(out:match("\n([^\n]+)\n$"))).faces
    end
    local all = faces_of("")
    assert.are.equal(2, #all)
    local big = faces_of("--largest")
    assert.are.equal(1, #big)
    assert.is_true(big[1].box[1] < 300)
    assert.is_true(faces_of("--select center")[1].box[1] > 500)
    assert.are.equal(1, #faces_of("--top-k 1"))
    -- a floor between the two scores keeps the better face (JSON scores have 6 digits)
    local lo, hi = math.min(all[1].score, all[2].score), math.max(all[1].score, all[2].score)
    assert.is_true(hi - lo > 2e-6, "the two faces' scores differ")
    local kept = faces_of(("--min-score %.7f"):format(lo + 1e-6))
    assert.are.equal(1, #kept)
    assert.are.equal(hi, kept[1].score)
    local _, bad, berr = helper.mtcnn("scripts/detect.lua --min-score 1.01 " .. q(two))
    assert.are.equal(2, bad)
    assert.matches("%-%-min%-score must lie in %[0, 1%]", berr)
    local image = require("mtcnn").image
    local cut = dir .. "/cut.png"
    assert(assert(image.load(astronaut)):crop(200, 0, 511, 511):save(cut))
    local out = helper.mtcnn("scripts/detect.lua --json - --clip " .. q(cut))
    assert.are.equal(0, assert(json.decode(out:match("\n([^\n]+)\n$"))).faces[1].box[1])
    local _, code, err = helper.mtcnn("scripts/detect.lua --largest --select best " .. q(two))
    assert.are.equal(2, code) -- a bad command line
    assert.matches("contradict", err)
  end)

  it("writes face crops of a size with a margin", function()
    local two = two_faces_png()
    local _, code = helper.mtcnn("scripts/detect.lua --quiet --crop " .. q(dir .. "/c") .. " --crop-size 64 --margin 8 " ..
      q(two))
    assert.are.equal(0, code)
    local image = require("mtcnn").image
    for k = 1, 2 do
      local crop = assert(image.load(dir .. "/c/two_face" .. k .. ".png"))
      assert.are.equal(64, crop.width)
      assert.are.equal(64, crop.height)
    end
    assert.is_false(helper.exists(dir .. "/c/two_face3.png"))
    local _, code2, err = helper.mtcnn("scripts/detect.lua --crop " .. q(dir .. "/c") .. " --crop-size 64 --margin 64 " ..
      q(two))
    assert.are.equal(2, code2) -- a bad command line
    assert.matches("%-%-margin must lie in", err)
  end)

  it("warns when resuming a file made with other settings", function()
    os.remove(dir .. "/in/broken.jpg")
    local out = dir .. "/r.jsonl"
    helper.mtcnn("scripts/detect.lua --quiet --json " .. q(out) .. " " .. q(astronaut))
    local _, code, err = helper.mtcnn("scripts/detect.lua --quiet --resume --min-face 40 --json " .. q(out) .. " " ..
      q(dir .. "/in"))
    assert.are.equal(0, code)
    assert.matches("written with other detector settings", err)
    local text = helper.read_file(out)
    local _, headers = text:gsub('{"mtcnn":', "")
    assert.are.equal(1, headers) -- one settings line
  end)

  it("explains bad command lines", function()
    local _, code, err = helper.mtcnn("scripts/detect.lua --resume " .. q(astronaut))
    assert.are.equal(2, code)
    assert.matches("%-%-resume needs %-%-json", err)
    _, code, err = helper.mtcnn("scripts/detect.lua " .. q(dir .. "/nothing_here"))
    assert.are.equal(1, code)
    assert.matches("nothing_here: No such file or directory", err)
    _, code, err = helper.mtcnn("scripts/detect.lua --model " .. q(dir) .. " " .. q(astronaut))
    assert.are.equal(1, code)
    assert.matches("manifest.json", err)
    local out
    out, code = helper.mtcnn("scripts/detect.lua --help")
    assert.are.equal(0, code)
    assert.matches("%-%-min%-face", out)
  end)
end)

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

  local function lines(path)
    local out = {}
    for l in helper.read_file(path):gmatch("[^\n]+") do out[#out + 1] = assert(json.decode(l)) end
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
    -- the keys come in the documented order
    assert.matches('^{"image":.*"width":.*"height":.*"faces":%[{"box":.*"score":.*"landmarks":',
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
    local first_line = full:match("^[^\n]+\n")
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

-- The scripts of examples/ run as written.
local helper = require "spec.helper"
local record = require "mtcnn.record"
local config = require "mtcnn.config"

describe("examples", function()
  it("custom_pnet_data.lua generates with its own thresholds and records them", function()
    helper.need_shared("WIDER FACE")
    local out = helper.tmpdir() .. "/custom"
    local text, code, err = helper.mtcnn("examples/custom_pnet_data.lua "
      .. helper.q(helper.shared .. "/data/wider") .. " " .. helper.q(out) .. " 3")
    assert.are.equal(0, code, err)
    assert.matches("3 sampled", text)
    local used = assert(config.load_file("pnet", out .. "/config.lua"))
    assert.are.equal(0.25, used.detection.neg_iou)
    assert.are.equal(0.6, used.detection.pos_iou)
    -- the settings reached the sampler: stored IoUs respect them
    local f = assert(record.open(out .. "/train.rec"))
    local n = {positive = 0, negative = 0}
    for _, s in f:samples() do
      if s.label == 0 then
        n.negative = n.negative + 1
        assert.is_true(s.iou < 0.25, "a negative with IoU " .. s.iou)
      elseif s.label == 1 then
        n.positive = n.positive + 1
        assert.is_true(s.iou >= 0.6, "a positive with IoU " .. s.iou)
      end
    end
    f:close()
    assert.is_true(n.negative > 0 and n.positive > 0)
  end)
end)

-- examples/walkthrough.lua, run as a script and fed line by line to the REPL (mtcnn -i): every
-- section does what it prints, and pasting gives what the script gives.
describe("examples/walkthrough.lua", function()
  local image = require("mtcnn").image
  local box = require("mtcnn").box
  local dir, script, repl

  local function num(text, pattern, what)
    local v = tonumber(text:match(pattern))
    assert(v, ("no %s in the output:\n%s"):format(what, text))
    return v
  end

  setup(function()
    dir = helper.tmpdir()
    script = {}
    script.out, script.code, script.err = helper.mtcnn("examples/walkthrough.lua "
      .. helper.q(dir .. "/script"))
    -- the REPL on a pipe reads the file as a user pastes it; OUT and WIDER set beforehand, the
    -- WIDER folder missing on purpose (the evaluation's skip)
    local input = dir .. "/input.lua"
    helper.write_file(input, ("OUT = %q\nWIDER = %q\n"):format(dir .. "/repl", dir .. "/no-wider")
      .. helper.read_file("examples/walkthrough.lua"))
    repl = {}
    repl.out, repl.code, repl.err = helper.mtcnn("-i < " .. helper.q(input))
  end)
  teardown(function() if dir then helper.rmdir(dir) end end)

  it("runs as a script to the end", function()
    assert.are.equal(0, script.code, script.err)
    assert.are.equal("", script.err)
    assert.matches("walkthrough done", script.out, 1, true)
  end)

  it("finds the astronaut's face, with its landmarks inside the box", function()
    assert.matches("\nfaces: 1\n", script.out, 1, true)
    local x1, y1, x2, y2, score = script.out:match(
      "face 1: box (%S+) (%S+) (%S+) (%S+) score (%S+)")
    local b = {tonumber(x1), tonumber(y1), tonumber(x2), tonumber(y2)}
    assert.is_true(tonumber(score) >= 0.9, "score " .. tostring(score))
    -- the face of examples/astronaut.png (512 x 512), drawn by hand around brow to chin
    assert.is_true(box.iou({179, 59, 267, 173}, {b})[1] >= 0.6, "box " .. table.concat(b, " "))
    local pts = {}
    for name, x, y in script.out:gmatch("\n  (%a[%w_]*)%s+(%S+)%s+(%S+)") do
      pts[name] = {tonumber(x), tonumber(y)}
      assert.is_true(pts[name][1] >= b[1] and pts[name][1] <= b[3] and pts[name][2] >= b[2]
        and pts[name][2] <= b[4], name .. " outside the box")
    end
    for _, name in ipairs({"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}) do
      assert.is_truthy(pts[name], name .. " not printed")
    end
    assert.is_true(pts.left_eye[2] < pts.nose[2] and pts.nose[2] < pts.mouth_left[2])
    assert.is_true(pts.left_eye[1] < pts.right_eye[1])
  end)

  it("writes a picture with the box drawn", function()
    local pic = assert(image.load(dir .. "/script/astronaut_faces.png"))
    local src = assert(image.load("examples/astronaut.png"))
    assert.are.same({src.width, src.height}, {pic.width, pic.height})
    local x1, y1, x2 = script.out:match("face 1: box (%S+) (%S+) (%S+)")
    local top, left = math.floor(tonumber(y1) + 0.5), math.floor(tonumber(x1) + 0.5)
    local mid = math.floor((tonumber(x1) + tonumber(x2)) / 2)
    assert.are.same({0, 255, 0}, {pic:get(mid, top)})      -- the box's top edge, green
    assert.are.same({0, 255, 0}, {pic:get(left, top + 30)}) -- and its left edge
    assert.are_not.same({src:get(mid, top)}, {pic:get(mid, top)})
  end)

  it("writes an aligned crop of the asked size, the points near the template", function()
    local a = assert(image.load(dir .. "/script/astronaut_aligned.png"))
    assert.are.same({112, 112}, {a.width, a.height})
    assert.matches("aligned: .-astronaut_aligned%.png %(112 x 112%)", script.out)
    assert.is_true(num(script.out, "aligned points: (%S+) px", "alignment error") < 8)
    assert.matches("crops: 1 x 3 x 112 x 112", script.out, 1, true)
  end)

  it("evaluates a few WIDER val images, or says why it cannot", function()
    if helper.has_shared then
      local n, easy, medium, hard = script.out:match(
        "WIDER val, (%d+) images: AP easy (%S+) medium (%S+) hard (%S+)")
      assert.is_truthy(n, "no AP line in:\n" .. script.out)
      assert.are.equal(8, tonumber(n))
      for _, ap in ipairs({easy, medium, hard}) do
        ap = tonumber(ap)
        assert.is_true(ap >= 0 and ap <= 1, "AP " .. tostring(ap))
      end
      -- the bundled model on faces large enough to see: far above chance
      assert.is_true(tonumber(easy) > 0.5, "easy AP " .. easy)
    else
      assert.matches("evaluation skipped: no WIDER FACE validation data under", script.out, 1, true)
    end
    -- without the data (the REPL run points WIDER at a missing folder): a clear skip
    assert.matches("evaluation skipped: no WIDER FACE validation data under " .. dir .. "/no-wider",
      repl.out, 1, true)
    assert.is_nil(repl.out:find("WIDER val, ", 1, true))
  end)

  it("trains a tiny PNet whose loss falls", function()
    assert.is_true(num(script.out, "\nsamples: (%d+)", "sample count") > 500)
    local before = num(script.out, "before training, loss (%S+)", "loss before")
    local after = num(script.out, "after %d+ steps, loss (%S+)", "loss after")
    assert.is_true(after < 0.5 * before, ("loss %g -> %g"):format(before, after))
    local acc0 = num(script.out, "before training, loss %S+ accuracy (%S+)", "accuracy before")
    local acc1 = num(script.out, "after %d+ steps, loss %S+ accuracy (%S+)", "accuracy after")
    assert.is_true(acc1 > acc0 and acc1 > 0.9, ("accuracy %g -> %g"):format(acc0, acc1))
    local steps = {}
    for s, l in script.out:gmatch("step%s+(%d+): batch loss (%S+)") do
      steps[#steps + 1] = {tonumber(s), tonumber(l)}
    end
    assert.is_true(#steps >= 4, "batch losses printed")
    assert.is_true(steps[#steps][2] < before, "the last batch's loss is below the starting loss")
    -- saved as a model folder, it runs as the detector's first stage
    local windows = num(script.out, "tiny pnet as a detector: (%d+) windows", "window count")
    assert.is_true(windows >= 1)
    assert.is_true(helper.exists(dir .. "/script/tiny_model/pnet.mtn"))
  end)

  it("runs the same when fed to the REPL line by line", function()
    assert.are.equal(0, repl.code, repl.err)
    -- the REPL reports an error and goes on: none may appear
    assert.is_nil(repl.out:find("traceback", 1, true), repl.out)
    assert.is_nil(repl.err:find("traceback", 1, true), repl.err)
    assert.matches("walkthrough done", repl.out, 1, true)
    -- the same face, picture sizes and training (seeded: the same losses)
    for _, pattern in ipairs({"face 1: box [^\n]*", "aligned points: [^\n]*", "samples: %d+",
                              "before training, loss [^\n]*", "after %d+ steps, loss [^\n]*"}) do
      local s = script.out:match(pattern)
      assert.is_truthy(s, pattern)
      assert.are.equal(s, repl.out:match(pattern))
    end
    local a = assert(image.load(dir .. "/repl/astronaut_aligned.png"))
    assert.are.same({112, 112}, {a.width, a.height})
  end)
end)

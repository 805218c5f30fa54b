-- The partial cascade (detector.new{stages = 1 | 2}): its boxes are the full cascade's
-- windows after PNet (or RNet), calibrated and not squared, and model folders holding only
-- the nets of the stages that run.
local mtcnn = require "mtcnn"
local json = require "mtcnn.json"
local core = require "mtcnn.core"
local T = require "mtcnn.tensor"
local helper = require "helper"

local detector = mtcnn.detector
local q = helper.q

-- The pictures to run on: the astronaut always, a crowded one when ../shared is there.
local function pictures()
  local list = {helper.home .. "/examples/astronaut.png"}
  if helper.has_shared then list[#list + 1] = helper.shared .. "/images/multiface_640x480.png" end
  return list
end

-- Asserts that two lists of faces hold exactly the same boxes and scores, without landmarks.
local function same_faces(a, b, what)
  assert.are.equal(#a, #b, what .. ": count")
  for k, f in ipairs(a) do
    assert.are.same(f.box, b[k].box, what .. ": box " .. k)
    assert.are.equal(f.score, b[k].score, what .. ": score " .. k)
    assert.is_nil(f.landmarks, what .. ": landmarks")
  end
end

-- The candidate steps of stage 1 run by hand with det's nets and settings.
local function stage1_by_hand(det, img)
  local c = core.detect.candidates()
  det:stage1(c, img, 1)
  c:nms(det.nms[2], "union")
  c:calibrate(det.pnet_width_plus_one)
  return c
end

-- How many faces have boxes that are not square.
local function oblong(faces)
  local n = 0
  for _, f in ipairs(faces) do
    if math.abs((f.box[3] - f.box[1]) - (f.box[4] - f.box[2])) > 1e-9 then n = n + 1 end
  end
  return n
end

describe("detector stages", function()
  it("PNet alone gives the full cascade's stage-1 windows, calibrated, not squared", function()
    local full = assert(detector.new())
    local p = assert(detector.new{stages = 1})
    for _, path in ipairs(pictures()) do
      local img = assert(mtcnn.image.load(path))
      local faces = p:detect(img)
      full:detect(img)
      -- the counts the full cascade keeps in det.stats
      assert.are.equal(full.stats.pnet.windows, p.stats.pnet.windows, path)
      assert.are.equal(full.stats.pnet.kept, #faces, path)
      assert.are.equal(full.stats.rnet.windows, #faces, path)
      assert.is_nil(p.stats.rnet)
      assert.is_nil(p.stats.onet)
      assert.is_true(#faces > 0)
      same_faces(stage1_by_hand(full, img):faces(nil, false), faces, path)
      -- calibrated, not squared: PNet's offsets make most boxes oblong
      for _, f in ipairs(faces) do assert.is_true(f.score >= full.thresholds[1] and f.score <= 1) end
      assert.is_true(oblong(faces) > #faces // 2, ("%d of %d oblong"):format(oblong(faces), #faces))
    end
  end)

  it("PNet + RNet gives the full cascade's windows after RNet, calibrated, not squared", function()
    local full = assert(detector.new())
    local r = assert(detector.new{stages = "rnet"})
    assert.are.equal(2, r.stages)
    for _, path in ipairs(pictures()) do
      local img = assert(mtcnn.image.load(path))
      local faces = r:detect(img)
      full:detect(img)
      assert.are.equal(full.stats.pnet.kept, r.stats.pnet.kept, path)
      assert.are.equal(full.stats.rnet.windows, r.stats.rnet.windows, path)
      assert.are.equal(full.stats.rnet.kept, #faces, path)
      assert.are.equal(full.stats.onet.windows, #faces, path)
      assert.is_nil(r.stats.onet)
      assert.is_true(#faces > 0)
      -- by hand: stage 1, then RNet's crops, threshold, NMS and calibration
      local c = stage1_by_hand(full, img)
      c:square()
      c:fix()
      local x = T.empty(#c, 3, 24, 24)
      c:crop({img}, 24, full.resize, x)
      local cls, box = T.empty(#c, 2), T.empty(#c, 4)
      for start = 1, #c, full.batch do
        local len = math.min(full.batch, #c - start + 1)
        local out = (full.plans.rnet or full.rnet):forward(x:narrow(1, start, len):contiguous())
        cls:narrow(1, start, len):copy_(out.cls)
        box:narrow(1, start, len):copy_(out.box)
      end
      c:set_outputs(cls, box)
      c:filter(full.thresholds[2])
      c:nms(full.nms[3], "union")
      c:calibrate(true)
      same_faces(c:faces(nil, false), faces, path)
      for _, f in ipairs(faces) do assert.is_true(f.score > full.thresholds[2] and f.score <= 1) end
      assert.is_true(oblong(faces) > 0)
    end
  end)

  it("crops a range of windows as the rows of the whole crop, and any batch gives the same faces", function()
    local img = assert(mtcnn.image.load(pictures()[#pictures()]))
    local full = assert(detector.new())
    local c = stage1_by_hand(full, img)
    c:square()
    c:fix()
    assert.is_true(#c > 10)
    local whole = T.empty(#c, 3, 24, 24)
    c:crop({img}, 24, full.resize, whole)
    local part = T.empty(5, 3, 24, 24)
    c:crop({img}, 24, full.resize, part, 4, 5)
    assert.are.equal(0, (part - whole:narrow(1, 4, 5)):abs():max())
    c:crop({img}, 24, full.resize, T.empty(0, 3, 24, 24), #c + 1, 0)
    assert.has_error(function() c:crop({img}, 24, full.resize, part, #c - 3, 5) end, "bad argument #6 to 'crop' (window count out of range)")
    assert.has_error(function() c:crop({img}, 24, full.resize, part, 0, 5) end, "bad argument #5 to 'crop' (first window out of range)")
    assert.has_error(function() c:crop({img}, 24, full.resize, part, 1, 4) end)
    -- RNet and ONet over the windows 7 at a time (crops made a batch at a time) find what one
    -- batch finds, landmarks averaged with mirrored crops included
    for _, flip in ipairs({false, true}) do
      local a = assert(detector.new{flip_landmarks = flip}):detect(img)
      local b = assert(detector.new{flip_landmarks = flip, batch = 7}):detect(img)
      assert.are.equal(#a, #b)
      assert.is_true(#a > 0)
      for k = 1, #a do
        assert.are.same(a[k].box, b[k].box)
        assert.are.equal(a[k].score, b[k].score)
        assert.are.same(a[k].landmarks, b[k].landmarks)
      end
    end
  end)

  it("gives the same partial results for a batch of images as one by one", function()
    local p = assert(detector.new{stages = 1})
    local r = assert(detector.new{stages = 2})
    local ims = {}
    for i, path in ipairs(pictures()) do ims[i] = assert(mtcnn.image.load(path)) end
    ims[#ims + 1] = ims[1]:flip()
    local pb, rb = p:detect_batch(ims), r:detect_batch(ims)
    assert.are.equal(#ims, #pb)
    for i, im in ipairs(ims) do
      same_faces(p:detect(im), pb[i], "pnet image " .. i) -- (stage 1 is per image: exact)
      local single = r:detect(im)
      assert.are.equal(#single, #rb[i])
      for k, f in ipairs(single) do
        for j = 1, 4 do helper.near(f.box[j], rb[i][k].box[j], 1e-3, "rnet box") end
      end
    end
  end)

  it("takes stages as a number or a net's name and rejects anything else", function()
    for v, n in pairs({[1] = 1, [2] = 2, [3] = 3, pnet = 1, rnet = 2, onet = 3}) do
      local det = assert(detector.new{stages = v})
      assert.are.equal(n, det.stages)
      assert.are.equal(n, det:settings().stages)
    end
    assert.are.equal(3, assert(detector.new()).stages)
    assert.are.equal(2, assert(detector.new{stages = 2.0}).stages)
    for _, bad in ipairs({0, 4, 1.5, "lnet", "2", true}) do
      assert.has_error(function() detector.new{stages = bad} end,
        "detector: stages must be 1, 2, 3 or \"pnet\", \"rnet\", \"onet\"")
    end
    -- the full cascade still gives landmarks
    local faces = assert(detector.new{stages = 3}):detect(helper.home .. "/examples/astronaut.png")
    assert.are.equal(5, #faces[1].landmarks)
  end)

  describe("model folders with some of the nets", function()
    local dir
    before_each(function() dir = helper.tmpdir() end)
    after_each(function() helper.rmdir(dir) end)

    -- A model folder holding the bundled model's nets of the given names.
    local function folder(name, archs)
      local path = dir .. "/" .. name
      os.execute("mkdir -p " .. q(path))
      local bundled = assert(json.read_file(detector.default_model() .. "/manifest.json"))
      local nets = {}
      for _, a in ipairs(archs) do
        nets[a] = a .. ".mtn"
        os.execute("cp " .. q(detector.default_model() .. "/" .. a .. ".mtn") .. " " .. q(path))
      end
      helper.write_file(path .. "/manifest.json", json.encode({name = name, format = 1, nets = nets,
        conventions = bundled.conventions}))
      return path
    end

    it("loads a PNet alone for stages = 1 and says what is missing for more", function()
      local path = folder("pnet_only", {"pnet"})
      local nets = assert(detector.load_model(path))
      assert.is_not_nil(nets.pnet)
      assert.is_nil(nets.rnet)
      assert.is_nil(nets.onet)
      local det = assert(detector.new{model = path, stages = 1})
      local img = helper.home .. "/examples/astronaut.png"
      same_faces(assert(detector.new{stages = 1}):detect(img), det:detect(img), "pnet folder")
      for _, stages in ipairs({2, 3}) do
        local none, err = detector.new{model = path, stages = stages}
        assert.is_nil(none)
        assert.are.equal(("model %s has no rnet: train it, or use stages = 1"):format(path), err)
      end
      local _, err = detector.new{model = path}
      assert.matches("has no rnet: train it, or use stages = 1", err)
    end)

    it("gives the path of one net (detector.stage_file), by folder or bundled name", function()
      local path = folder("pnet_only", {"pnet"})
      assert.are.equal(path .. "/pnet.mtn", detector.stage_file(path, "pnet"))
      local none, err = detector.stage_file(path, "onet")
      assert.is_nil(none)
      assert.are.equal(("model %s holds no onet"):format(path), err)
      assert.are.equal(detector.default_model() .. "/onet.mtn", detector.stage_file("original", "onet"))
      none, err = detector.stage_file("no_such_model", "onet")
      assert.is_nil(none)
      assert.matches("nor a bundled model of that name", err, 1, true)
      helper.write_file(path .. "/manifest.json", json.encode({name = "x", format = 1,
        nets = {pnet = 3}}))
      none, err = detector.stage_file(path, "pnet")
      assert.is_nil(none)
      assert.are.equal(("model %s: manifest.json names no file for pnet"):format(path), err)
    end)

    it("loads PNet + RNet for stages = 2 and asks for ONet at stages = 3", function()
      local path = folder("pr", {"pnet", "rnet"})
      local det = assert(detector.new{model = path, stages = 2})
      assert.is_true(#det:detect(helper.home .. "/examples/astronaut.png") > 0)
      local none, err = detector.new{model = path, stages = 3}
      assert.is_nil(none)
      assert.are.equal(("model %s has no onet: train it, or use stages = 2"):format(path), err)
      -- a folder without a PNet serves no stage
      local ro = folder("ro", {"rnet", "onet"})
      none, err = detector.new{model = ro, stages = 1}
      assert.is_nil(none)
      assert.are.equal(("model %s has no pnet: train it"):format(ro), err)
      -- nets handed over directly are checked the same way
      none, err = detector.new{nets = {pnet = det.pnet}, stages = 2}
      assert.is_nil(none)
      assert.are.equal("the nets given have no rnet: train it, or use stages = 1", err)
    end)

    it("takes a bundled model by name, a folder of that name here first", function()
      local listed = false
      for _, name in ipairs(detector.bundled_models()) do listed = listed or name == "original" end
      assert.is_true(listed)
      assert.are.equal(detector.default_model(), assert(detector.resolve_model("original")))
      local by_name = assert(detector.new{model = "original"})
      assert.are.equal(detector.default_model(), by_name.model)
      local img = helper.home .. "/examples/astronaut.png"
      local a, b = by_name:detect(img), assert(detector.new{}):detect(img)
      assert.are.equal(1, #a)
      assert.are.same(b[1].box, a[1].box)
      -- a bare name that is neither a folder nor bundled: both kinds named in the message
      local none, err = detector.new{model = "no_such_model"}
      assert.is_nil(none)
      assert.matches("model no_such_model: no such folder, nor a bundled model of that name %(bundled: .*original", err)
      none, err = detector.load_model("no_such_model")
      assert.is_nil(none)
      assert.matches("nor a bundled model", err)
      none, err = detector.new{model = dir .. "/missing"}
      assert.is_nil(none)
      assert.are.equal(("model %s/missing: no such folder"):format(dir), err)
      -- a folder in the working directory wins over a bundled model of the same name: here
      -- one holding a PNet alone, so the full cascade asks for an RNet
      local cwd = helper.tmpdir()
      os.execute("mv " .. q(folder("original", {"pnet"})) .. " " .. q(cwd .. "/original"))
      local abs = helper.run("cd " .. q(helper.home) .. " && pwd"):gsub("%s+$", "")
      local cmd = "cd " .. q(cwd) .. " && " .. q(helper.bin:sub(1, 1) == "/" and helper.bin or abs .. "/" .. helper.bin) .. " "
        .. q(abs .. "/scripts/detect.lua") .. " --model original " .. q(abs .. "/examples/astronaut.png")
      local out, code, err = helper.run(cmd)
      helper.rmdir(cwd)
      assert.are_not.equal(0, code, out)
      assert.matches("model original has no rnet", err)
    end)

    it("rejects manifests that name no nets or a wrong file", function()
      local path = folder("empty", {})
      local none, err = detector.load_model(path)
      assert.is_nil(none)
      assert.matches("names none of pnet, rnet, onet", err)
      helper.write_file(path .. "/manifest.json", '{"name": "x"}')
      none, err = detector.load_model(path)
      assert.is_nil(none)
      assert.matches('manifest.json has no "nets" table', err)
      local wrong = folder("wrong", {"rnet"})
      helper.write_file(wrong .. "/manifest.json", '{"nets": {"pnet": "rnet.mtn"}}')
      none, err = detector.load_model(wrong)
      assert.is_nil(none)
      assert.matches("rnet.mtn holds a rnet, not a pnet", err)
    end)
  end)
end)

-- scripts/pipeline.lua: the step table, the command line, and the whole recipe on the --tiny
-- settings (lua/mtcnn/config/tiny.lua) run end to end on ../shared/data, once straight through
-- and once killed twice (during RNet's training and during ONet's mining) and resumed: both
-- must end with the same nets, byte for byte. Tagged "pipeline": a few minutes on 2 cores in
-- the release build, left out of the sanitizer run of .ci/run.

local helper = require "helper"
local mtcnn = require "mtcnn"
local json, sys = mtcnn.json, mtcnn.sys
local pipeline = require "mtcnn.pipeline"

local q = helper.q
local SCRIPT = helper.home .. "/scripts/pipeline.lua"

local function data_args()
  local d = helper.shared .. "/data"
  return ("--wider %s --landmarks %s"):format(q(d .. "/wider"), q(d .. "/landmarks"))
end

describe("pipeline.lua", function()
  it("maps the seed's 17 steps in order, and the optional ones after the step they follow", function()
    local seen, optional = {}, {}
    for _, s in ipairs(pipeline.STEPS) do
      if s.optional then
        optional[#optional + 1] = ("%s %s %s"):format(pipeline.step_label(s), s.id, s.optional)
      else
        for _, n in ipairs(s.numbers) do seen[#seen + 1] = n end
      end
    end
    assert.are.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, seen)
    assert.are.same({"9+ rnet-detection rnet_detection", "14+ onet-detection onet_detection",
                     "14+ onet-landmark-windows onet_landmark_windows"}, optional)
    assert.are.equal(pipeline.step_index("rnet-train"), pipeline.step_index("12"))
    assert.are.equal(pipeline.step_index("onet-merge"), pipeline.step_index("16"))
    assert.are.equal(pipeline.step_index("onet-landmark"), pipeline.step_index("14"))
    assert.are.equal(pipeline.step_index("onet-landmark") + 1, pipeline.step_index("onet-detection"))
    assert.are.equal(pipeline.step_index("onet-detection") + 1, pipeline.step_index("onet-landmark-windows"))
    assert.is_nil(pipeline.step_index("18"))
    -- off by default; a --config turns one on
    local s = assert(pipeline.load_config({}))
    assert.is_false(pipeline.step_on(s, pipeline.STEPS[pipeline.step_index("onet-detection")]))
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/on.lua", "return {data = {onet_detection = true}}")
    s = assert(pipeline.load_config({dir .. "/on.lua"}))
    assert.is_true(pipeline.step_on(s, pipeline.STEPS[pipeline.step_index("onet-detection")]))
    assert.is_false(pipeline.step_on(s, pipeline.STEPS[pipeline.step_index("rnet-detection")]))
    assert.is_false(pipeline.step_on(s, pipeline.STEPS[pipeline.step_index("onet-landmark-windows")]))
    helper.write_file(dir .. "/bad.lua", "return {data = {onet_detection = 1}}")
    local _, err = pipeline.load_config({dir .. "/bad.lua"})
    assert.matches("onet_detection must be true or false", err)
    helper.rmdir(dir)
  end)

  it("refuses a bad command line with status 2", function()
    local _, code, err = helper.mtcnn(q(SCRIPT) .. " --work /tmp/x")
    assert.are.equal(2, code)
    assert.matches("%-%-wider is required", err)
    _, code, err = helper.mtcnn(q(SCRIPT) .. " --wider a --landmarks b --work c --from 18")
    assert.are.equal(2, code)
    assert.matches("no step 18", err)
  end)

  it("refuses a bad --config naming the file and the setting", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/bad.lua", "return {rnet = {train = {epochz = 3}}}")
    local _, err = pipeline.load_config({dir .. "/bad.lua"})
    assert.matches("bad%.lua", err)
    assert.matches("epochz", err)
    helper.write_file(dir .. "/bad.lua", "return {data = {wider_images = -1}}")
    _, err = pipeline.load_config({dir .. "/bad.lua"})
    assert.matches("wider_images", err)
    helper.write_file(dir .. "/good.lua", "return {onet = {train = {epochs = 3}}, data = {wider_images = 5}}")
    local s = assert(pipeline.load_config({dir .. "/good.lua"}))
    assert.are.equal(3, s.onet.train.epochs)
    assert.are.equal(22, s.rnet.train.epochs)
    assert.are.equal(5, s.data.wider_images)
    helper.rmdir(dir)
  end)
end)

describe("pipeline.lua --tiny #pipeline", function()
  local dir, a, b

  -- Starts the pipeline in its own process group, waits until done(work) is true, and kills
  -- the group (the pipeline and its running step) with SIGKILL.
  local function kill_when(work, done, what)
    local pidfile = dir .. "/pid"
    os.remove(pidfile)
    os.execute(("setsid %s %s %s --tiny --threads 2 --quiet --no-eval --work %s >%s 2>&1 & echo $! > %s")
      :format(q(helper.bin), q(SCRIPT), data_args(), q(work), q(dir .. "/killed.log"), q(pidfile)))
    local f = io.open(pidfile)
    local pid = tonumber(f:read("l"))
    f:close()
    local t0 = sys.clock()
    while not done(work) do
      assert(io.open("/proc/" .. pid .. "/status"), "the pipeline ended before " .. what)
      assert(sys.clock() - t0 < 900, "the pipeline never reached " .. what)
      sys.sleep(0.05)
    end
    os.execute("kill -9 -" .. pid .. " 2>/dev/null")
    while not helper.gone(pid) do sys.sleep(0.02) end
    sys.sleep(0.2) -- the step's process of the same group
  end

  local function run(work, extra)
    return helper.mtcnn(("%s %s --tiny --threads 2 --quiet --json --work %s %s"):format(q(SCRIPT),
      data_args(), q(work), extra or ""))
  end

  setup(function()
    dir = helper.tmpdir()
    a, b = dir .. "/a", dir .. "/b"
  end)
  teardown(function() helper.rmdir(dir) end)

  it("trains the whole cascade and reports it", function()
    helper.need_shared("the tiny pipeline")
    local out, code, err = run(a)
    assert.are.equal(0, code, err)
    local s = json.decode(out)
    assert.is_true(s.finished)
    -- every step ran, in order
    assert.are.equal(14, #s.steps)
    for _, st in ipairs(s.steps) do
      assert.are.equal(st.numbers[1] <= 2 and "checked" or "ran", st.status, st.id)
    end
    -- the losses fall at every stage: the last epoch's training and validation loss below the first's
    for _, st in ipairs(pipeline.STAGES) do
      local h = s.history[st]
      assert.is_true(#h >= 2, st)
      assert.is_true(h[#h].train_loss < 0.8 * h[1].train_loss, st .. " training loss")
      assert.is_true(h[#h].val_loss < h[1].val_loss, st .. " validation loss")
      assert.is_number(s.validation[st].accuracy)
    end
    -- mining yields all three classes for both stages, and the merge takes them
    for _, st in ipairs({"rnet", "onet"}) do
      for _, class in ipairs({"positive", "part", "negative"}) do
        assert.is_true(s.samples[st].hard.train[class] > 0, st .. " " .. class)
        assert.is_true(s.samples[st].merged[class] > 0, st .. " merged " .. class)
      end
      assert.is_true(s.samples[st].recall > 0.5, st .. " mining recall")
    end
    -- the final evaluation of both models
    -- (the tiny cascade knows only its 40 images: it may find nothing there)
    for _, name in ipairs({"trained", "original"}) do
      local r = s.evaluation[name]
      assert.are.equal(4, r.wider.images, name)
      assert.is_number(r.wider.easy, name)
      assert.are.equal(50, r.landmarks.faces, name)
    end
    assert.is_true(s.evaluation.original.wider.easy > 0.5)
    assert.is_true(s.evaluation.original.landmarks.nme < 0.1)
    -- a second run skips every step after checking it
    out, code, err = run(a, "--no-eval")
    assert.are.equal(0, code, err)
    for _, st in ipairs(json.decode(out).steps) do
      assert.are.equal(st.numbers[1] <= 2 and "checked" or "done", st.status, st.id)
    end
  end)

  it("makes a cascade that finds a fifth of the faces of its own training images", function()
    helper.need_shared("the tiny pipeline")
    local d = helper.shared .. "/data/wider"
    -- the original thresholds (0.6, 0.7, 0.7), faces with a side >= 20, on 10 of its 40 images
    local out, code, err = helper.mtcnn(("%s --model %s --stages 3 --gt %s --images %s --limit 10 "
      .. "--threads 2 --json"):format(q(helper.home .. "/scripts/eval_stage.lua"), q(a .. "/onet/model"),
      q(d .. "/wider_face_split/wider_face_train_bbx_gt.txt"), q(d .. "/WIDER_train/images")))
    assert.are.equal(0, code, err)
    local r = json.decode(out)
    assert.is_true(r.faces > 50)
    assert.is_true(r.recall >= 0.2, ("recall %.3f"):format(r.recall))
  end)

  it("killed during RNet's training and ONet's mining, resumes to the same nets", function()
    helper.need_shared("the tiny pipeline")
    kill_when(b, function(w)
      return #require("mtcnn.train.checkpoint").list(w .. "/rnet/model/checkpoints") > 0
    end, "a checkpoint of RNet")
    kill_when(b, function(w)
      local st = json.read_file(w .. "/onet/hard/state.json")
      return st and st.images and st.images.done >= 8
    end, "8 images of ONet's mining")
    local out, code, err = run(b, "--no-eval")
    assert.are.equal(0, code, err)
    local s = json.decode(out)
    local status = {}
    for _, st in ipairs(s.steps) do status[st.id] = st.status end
    assert.are.equal("done", status["pnet-train"])
    assert.are.equal("done", status["rnet-train"]) -- continued by the second run
    assert.are.equal("continued", status["onet-hard"])
    for _, net in ipairs({"pnet", "rnet", "onet"}) do
      assert.are.equal(helper.read_file(a .. "/onet/model/" .. net .. ".mtn"),
                       helper.read_file(b .. "/onet/model/" .. net .. ".mtn"), net)
    end
    helper.same_records(a .. "/onet/hard", b .. "/onet/hard")
  end)

  -- (last: it changes the first run's ONet; a copy of the folder would not do, the recorded
  -- commands name the folder)
  it("with ONet's detection samples and landmark windows turned on, redoes ONet's merge and training only", function()
    helper.need_shared("the tiny pipeline")
    local before = {}
    for _, net in ipairs({"pnet", "rnet", "onet"}) do
      before[net] = helper.read_file(a .. "/onet/model/" .. net .. ".mtn")
    end
    -- (the tiny RNet passes few windows at the detector's thresholds: the miner's are used)
    helper.write_file(dir .. "/on.lua", "return {data = {onet_detection = true, onet_landmark_windows = true}, "
      .. "onet = {landmark_windows = {lmk_window_pnet_threshold = 0.3, lmk_window_rnet_threshold = 0.1}}}")
    local out, code, err = run(a, "--no-eval --config " .. q(dir .. "/on.lua"))
    assert.are.equal(0, code, err)
    local s = json.decode(out)
    local status = {}
    for _, st in ipairs(s.steps) do status[st.id] = st.status end
    assert.are.equal("done", status["onet-hard"])
    assert.are.equal("ran", status["onet-detection"])
    assert.are.equal("ran", status["onet-landmark-windows"])
    assert.are.equal("ran", status["onet-merge"])
    assert.are.equal("ran", status["onet-train"])
    assert.is_nil(status["rnet-detection"]) -- off
    -- the merge took the hard examples and the new samples: more of each detection class
    local o = s.samples.onet
    for _, class in ipairs({"positive", "part", "negative"}) do
      assert.is_true(o.detection.train[class] > 0, class)
      assert.are.equal(o.hard.train[class] + o.detection.train[class], o.merged[class], class)
    end
    -- and the landmark samples with the landmark windows (landmark samples only)
    local w = o.landmark_windows.train
    assert.is_true(w.landmark > 0)
    assert.are.equal(w.landmark, w.total)
    assert.are.equal(o.landmark.train.landmark + w.landmark, o.merged.landmark)
    -- PNet and RNet are the first run's; ONet is new
    for _, net in ipairs({"pnet", "rnet"}) do
      assert.are.equal(before[net], helper.read_file(a .. "/onet/model/" .. net .. ".mtn"), net)
    end
    assert.are_not.equal(before.onet, helper.read_file(a .. "/onet/model/onet.mtn"))
  end)

  it("fine-tunes ONet from a net of one's choice (onet.train.init): ONet's training alone runs again", function()
    helper.need_shared("the tiny pipeline")
    -- settings added later stay out of the steps' signatures at their defaults, so that a
    -- work folder from before them keeps its finished steps
    for id, rec in pairs(assert(json.read_file(a .. "/pipeline.json")).steps) do
      assert.is_nil(rec.signature:find("init =", 1, true), id)
      assert.is_nil(rec.signature:find("hard_face_min_side", 1, true), id)
    end
    local start = dir .. "/start.mtn"
    helper.write_file(start, helper.read_file(a .. "/onet/model/onet.mtn"))
    -- (a hard_face_min_side at or below hard_min_side, 20, drops nothing: mining is kept)
    helper.write_file(dir .. "/tune.lua", (helper.read_file(dir .. "/on.lua"):gsub("}}}$",
      ("}, hard = {hard_face_min_side = 12}, train = {init = %q}}}"):format(start))))
    local out, code, err = run(a, "--no-eval --config " .. q(dir .. "/tune.lua"))
    assert.are.equal(0, code, err)
    for _, st in ipairs(json.decode(out).steps) do
      local want = st.id == "onet-train" and "ran" or st.numbers[1] <= 2 and "checked" or "done"
      assert.are.equal(want, st.status, st.id)
    end
    local steps = assert(json.read_file(a .. "/pipeline.json")).steps
    assert.is_nil(steps["onet-hard"].signature:find("hard_face_min_side", 1, true))
    local sig = steps["onet-train"].signature
    assert.truthy(sig:find(("init = %q"):format(start), 1, true))
    local m = assert(json.read_file(a .. "/onet/model/manifest.json"))
    assert.are.equal(start, m.provenance.onet.init.path)
    assert.are.equal(start, m.provenance.onet.config.init)
  end)
end)

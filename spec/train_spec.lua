-- The trainer (mtcnn.train, scripts/train_pnet.lua) on a small synthetic record set (light
-- squares with a face pattern among decoys, spec/train_fixtures.lua; no ../shared needed):
-- it learns, validates every sample, writes a model folder, and a run killed with SIGKILL and
-- resumed ends with the same weights as an uninterrupted one.

local helper = require "helper"
local F = require "train_fixtures"
local mtcnn = require "mtcnn"

local train = require "mtcnn.train"
local validate = require "mtcnn.train.validate"
local checkpoint = require "mtcnn.train.checkpoint"
local config = require "mtcnn.config"
local json = mtcnn.json
local models, sys = mtcnn.models, mtcnn.sys

-- The settings of the specs' runs: the recipe's, with small batches (about 45 steps per epoch
-- on the fixture set) and a larger learning rate, so that a few epochs learn the task.
local function settings(epochs, extra)
  local cfg = config.defaults("pnet")
  cfg.train.epochs = epochs
  cfg.train.batch = 64
  cfg.train.lr = 0.01
  cfg.train.lr_epochs = {3}
  cfg.train.log_every = 5
  for k, v in pairs(extra or {}) do cfg.train[k] = v end
  return cfg
end

local function quiet() end

local function wait_for(cond, what, timeout)
  local t0 = sys.clock()
  while not cond() do
    if sys.clock() - t0 > (timeout or 60) then error("timed out waiting for " .. what) end
    sys.sleep(0.005)
  end
end

local function exists(path)
  return sys.stat(path) ~= nil
end

-- Asserts that two net files hold the same parameters, bit for bit.
local function same_weights(path_a, path_b)
  local a, b = assert(models.load(path_a)), assert(models.load(path_b))
  local pb = b:named_parameters()
  for i, e in ipairs(a:named_parameters()) do
    local t = pb[i].tensor
    if e.tensor:to_bytes() ~= t:to_bytes() then
      error(("%s differs between %s and %s (largest difference %g)"):format(e.name, path_a,
        path_b, e.tensor:max_abs_diff(t)), 2)
    end
  end
end

-- The project's commit and whether tracked files differ from it (nil, nil without git).
local function git_state()
  local q = helper.q(mtcnn.home or ".")
  local p = io.popen("git -C " .. q .. " rev-parse HEAD 2>/dev/null")
  local head = p:read("a"):match("^(%x+)")
  p:close()
  if not head then return nil, nil end
  p = io.popen("git -C " .. q .. " status --porcelain --untracked-files=no 2>/dev/null")
  local dirty = p:read("a"):match("%S") ~= nil
  p:close()
  return head, dirty
end

-- A log's lines without the timings (which differ from run to run).
local function log_lines(path)
  local out = {}
  for line in io.lines(path) do
    local e = json.decode(line)
    e.samples_per_s = nil
    if e.train then e.train.samples_per_s, e.train.seconds = nil, nil end
    if e.val then e.val.seconds = nil end
    out[#out + 1] = json.encode(e)
  end
  return out
end

describe("trainer", function()
  local dir, set
  local threads
  local spe -- steps per epoch at batch 64

  setup(function()
    threads = sys.threads()
    dir = helper.tmpdir()
    set = F.build(dir, {images = 40, val_images = 12, seed = 1})
    local n = 0
    for _, c in pairs(set.counts) do n = n + c end
    spe = n // 64
  end)

  teardown(function()
    sys.set_threads(threads)
    helper.rmdir(dir)
  end)

  local function run(opts)
    local o = {stage = "pnet", train = set.train, val = set.val, threads = 2, progress = false,
               note = quiet, curves = false}
    for k, v in pairs(opts) do o[k] = v end
    return train.run(o)
  end

  it("learns the task: validation loss falls, faces are told from decoys", function()
    local out = dir .. "/learn"
    local v <close> = assert(validate.new{stage = "pnet", files = set.val, threshold = 0.6})
    local before = v:run(models.pnet{seed = 2})
    local notes = {}
    local s = assert(run{cfg = settings(3), out = out, seed = 2, curves = true,
                         note = function(m) notes[#notes + 1] = m end})
    assert.are.equal(3, #s.history)
    local first, last = s.history[1].val, s.history[3].val
    -- Untrained (measured over seeds 1-5): loss 2.5-3.0, accuracy 0.33-0.72 with one class
    -- mostly wrong, box IoU 0.42-0.56, landmark error 0.73-0.87 of the side. After 3 epochs
    -- (measured, seeds 1-5 and two fixture sets): loss 0.03-0.04, accuracy 1.0 on both
    -- classes, recall 1.0, box IoU 0.78-0.80, landmark error 0.06-0.07. The bounds leave room
    -- for other CPU kernels' rounding while still failing a net that learns nothing.
    assert.is_true(before.loss > 1, "untrained loss " .. before.loss)
    assert.is_true(last.loss < first.loss, ("val loss %g -> %g"):format(first.loss, last.loss))
    assert.is_true(last.loss < 0.1 * before.loss, ("val loss %g -> %g"):format(before.loss, last.loss))
    assert.is_true(last.accuracy_positive >= 0.95, "positives " .. last.accuracy_positive)
    assert.is_true(last.accuracy_negative >= 0.95, "negatives " .. last.accuracy_negative)
    assert.is_true(last.recall >= 0.9, "recall " .. last.recall)
    assert.is_true(last.box_iou >= 0.7 and last.box_iou > before.box_iou + 0.15, "box IoU " .. last.box_iou)
    assert.is_true(last.landmark_error <= 0.1, "landmark error " .. last.landmark_error)
    -- the training means fall too
    assert.is_true(s.history[3].train.loss < s.history[1].train.loss)
    -- the logs
    local steps = log_lines(out .. "/log.jsonl")
    assert.are.equal(s.steps // 5, #steps)
    assert.are.equal(3, #log_lines(out .. "/epochs.jsonl"))
    assert.is_true(exists(out .. "/config.lua"))
    -- the picture, or a note saying why there is none
    if require("mtcnn.eval.plot").available() then
      assert.is_true(sys.stat(out .. "/curves.png").size > 1000)
    else
      assert.is_truthy(table.concat(notes):find("no curves.png", 1, true))
    end
    local cfg = assert(config.load_file("pnet", out .. "/config.lua"))
    assert.are.equal(0.01, cfg.train.lr)
    assert.are.equal(64, cfg.train.batch)
  end)

  it("validates every sample in order, whatever the batch", function()
    local total = 0
    for _, p in ipairs(set.val) do total = total + mtcnn.record.open(p).count end
    assert.is_true(total % 64 ~= 0)
    local net = models.pnet{seed = 3}
    local m = {}
    for i, b in ipairs({64, 7, total}) do
      local v <close> = assert(validate.new{stage = "pnet", files = set.val, batch = b, threshold = 0.6})
      m[i] = v:run(net)
    end
    assert.are.equal(total, m[1].samples)
    local lf = mtcnn.record.open(set.val[2]):counts().landmark
    assert.are.equal(total, m[1].positives + m[1].negatives + m[1].part + lf)
    for i = 2, 3 do
      for _, k in ipairs({"loss", "cls", "box", "landmarks", "accuracy", "recall", "box_iou",
                          "landmark_error"}) do
        helper.near(m[1][k], m[i][k], 1e-5 * math.max(1, math.abs(m[1][k])), k)
      end
    end
    assert.is_true(net.is_training, "the net is back in training mode")
  end)

  it("writes a model folder with provenance and our conventions", function()
    local out = dir .. "/model"
    local s = assert(run{cfg = settings(1), out = out, seed = 4})
    local m = assert(json.read_file(out .. "/manifest.json"))
    assert.are.same({pnet = "pnet.mtn"}, m.nets)
    assert.are.same({landmark_offset = 0.5, pnet_width_plus_one = true}, m.conventions)
    local p = m.provenance.pnet
    assert.are.equal(4, p.seed)
    assert.are.equal(2, p.threads)
    assert.are.equal(set.train, p.data.train.files[1].path)
    assert.are.equal(set.counts.positive, p.data.train.files[1].counts.positive)
    assert.are.equal(2, #p.data.val.files)
    assert.are.equal(0.01, p.config.lr)
    assert.is_truthy(p.date:match("^%d%d%d%d%-%d%d%-%d%dT"))
    assert.are.equal(s.final.loss, p.validation.loss)
    assert.is_truthy(m.licence:find("research", 1, true))
    local net = assert(models.load(out .. "/pnet.mtn"))
    assert.are.equal("pnet", net.arch)
    -- the detector's loader takes the folder as far as it handles partial cascades
    local nets, err = mtcnn.detector.load_model(out)
    if nets then
      assert.are.equal("pnet", nets.pnet.arch)
      assert.is_nil(nets.rnet)
    else
      assert.is_truthy(err:find("no file for rnet", 1, true), err)
    end
    -- a later stage trained into the same folder keeps the earlier ones
    assert(train.write_model(out, "rnet", models.rnet{seed = 1}, {note = "test"}))
    m = assert(json.read_file(out .. "/manifest.json"))
    assert.are.same({pnet = "pnet.mtn", rnet = "rnet.mtn"}, m.nets)
    assert.are.equal(4, m.provenance.pnet.seed)
  end)

  it("resumes a run killed with SIGKILL to the same weights and logs", function()
    local args = ("--train %s --val %s --threads 2 --seed 3 --epochs 5 --batch 64 --lr 0.01 "
      .. "--lr-epochs 3 --log-every 5 --checkpoint-every 20 --quiet"):format(helper.q(set.train),
      helper.q(table.concat(set.val, ",")))
    local out = dir .. "/killed"
    local script = helper.q(helper.home .. "/scripts/train_pnet.lua")
    os.execute(("%s %s %s --out %s >%s 2>&1 & echo $! > %s"):format(helper.q(helper.bin), script,
      args, helper.q(out), helper.q(dir .. "/child.log"), helper.q(dir .. "/pid")))
    local pid
    wait_for(function()
      local f = io.open(dir .. "/pid")
      if f then pid = tonumber(f:read("l")) f:close() end
      return pid ~= nil
    end, "the trainer's pid")
    -- killed right after the first epoch's checkpoint
    local first = out .. "/checkpoints/" .. checkpoint.name(spe)
    wait_for(function() return exists(first) end, "the first epoch's checkpoint")
    os.execute("kill -9 " .. pid)
    wait_for(function() return helper.gone(pid) end, "the trainer to die", 10)
    assert.is_false(exists(out .. "/pnet.mtn"), "the kill came before the end of the run")
    -- every checkpoint file left is whole (temporary files aside)
    local ckpts = checkpoint.list(out .. "/checkpoints")
    assert.is_true(#ckpts >= 1)
    for _, c in ipairs(ckpts) do assert(checkpoint.load(c.path)) end

    -- the same command line with --resume (its settings agree with the run's)
    local _, code, err = helper.mtcnn(("%s %s --out %s --resume"):format(script, args, helper.q(out)))
    assert.are.equal(0, code, err)

    -- the same run uninterrupted, in this process
    local cfg = settings(5, {checkpoint_every = 20})
    local whole = dir .. "/whole"
    assert(run{cfg = cfg, out = whole, seed = 3})
    same_weights(whole .. "/pnet.mtn", out .. "/pnet.mtn")
    assert.are.same(log_lines(whole .. "/log.jsonl"), log_lines(out .. "/log.jsonl"))
    assert.are.same(log_lines(whole .. "/epochs.jsonl"), log_lines(out .. "/epochs.jsonl"))
    -- every epoch's checkpoint is kept, the mid-epoch ones are replaced
    local steps = {}
    for _, c in ipairs(checkpoint.list(out .. "/checkpoints")) do steps[#steps + 1] = c.step end
    assert.are.same({5 * spe, 4 * spe, 3 * spe, 2 * spe, spe}, steps)
  end)

  it("resumes from the newest whole checkpoint and refuses other settings", function()
    local out = dir .. "/resume"
    local cfg = settings(2, {checkpoint_every = 0})
    local ok, err = pcall(run, {cfg = cfg, out = out, seed = 5, on_step = function(ctx)
      if ctx.step == spe + 15 then error("stop here") end
    end})
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("stop here", 1, true))
    -- a damaged newer file is skipped with a note
    local good = out .. "/checkpoints/" .. checkpoint.name(spe)
    local data = helper.read_file(good)
    helper.write_file(out .. "/checkpoints/" .. checkpoint.name(spe + 5), data:sub(1, #data // 2))
    -- other settings, another seed, a new run over it: refused
    local s
    s, err = run{cfg = settings(2, {lr = 0.02}), out = out, resume = true}
    assert.is_nil(s)
    assert.is_truthy(err:find("train.lr", 1, true), err)
    s, err = run{out = out, resume = true, seed = 6}
    assert.is_nil(s)
    assert.is_truthy(err:find("seed", 1, true), err)
    s, err = run{cfg = cfg, out = out, seed = 5}
    assert.is_nil(s)
    assert.is_truthy(err:find("--resume", 1, true), err)
    -- the checkpoint keeps the code the run began with; pretend that was another commit
    local head, dirty = git_state()
    local state, tensors = checkpoint.latest(out .. "/checkpoints")
    assert.are.equal(spe, state.step)
    assert.are.equal(head, state.code.commit)
    state.code = {commit = "0123abcd", dirty = false}
    assert(checkpoint.save(out .. "/checkpoints", state, tensors))
    -- resumed: the damaged file noted, the run ends as an uninterrupted one
    local notes = {}
    s = assert(run{out = out, resume = true, note = function(m) notes[#notes + 1] = m end})
    assert.are.equal(good, s.resumed_from)
    -- the manifest names the commit the run began at, and the session that finished it
    local p = assert(json.read_file(out .. "/manifest.json")).provenance.pnet
    assert.are.equal("0123abcd", p.commit)
    assert.is_false(p.commit_dirty)
    if head then
      assert.are.same({commit = head, dirty = dirty, step = spe}, p.resumed_at[1])
      assert.are.equal(1, #p.resumed_at)
    else
      assert.is_nil(p.resumed_at)
    end
    assert.is_truthy(table.concat(notes, "\n"):find(checkpoint.name(spe + 5), 1, true))
    local whole = dir .. "/resume_whole"
    assert(run{cfg = cfg, out = whole, seed = 5})
    same_weights(whole .. "/pnet.mtn", out .. "/pnet.mtn")
    -- --overwrite starts again
    assert(run{cfg = settings(1), out = out, seed = 5, overwrite = true})
    assert.are.equal(1, #log_lines(out .. "/epochs.jsonl"))
  end)

  it("starts from a trained net's weights (train.init) and names them in the manifest", function()
    local first = dir .. "/init_first"
    local s1 = assert(run{cfg = settings(2), out = first, seed = 3})
    -- at a vanishing rate without weight decay a run keeps the weights it starts from: those
    -- of the model folder's net, not the seed's random ones
    local out = dir .. "/init_run"
    local s = assert(run{cfg = settings(1, {init = first, lr = 1e-30, weight_decay = 0}), out = out,
                         seed = 9})
    local a, b = assert(models.load(first .. "/pnet.mtn")), assert(models.load(out .. "/pnet.mtn"))
    local pb = b:named_parameters()
    for i, e in ipairs(a:named_parameters()) do
      assert.is_true(e.tensor:max_abs_diff(pb[i].tensor) < 1e-6, e.name)
    end
    assert.is_true(math.abs(s.final.loss - s1.final.loss) < 1e-4 * s1.final.loss,
      ("val loss %g, the first run's %g"):format(s.final.loss, s1.final.loss))
    local p = assert(json.read_file(out .. "/manifest.json")).provenance.pnet
    assert.are.equal(first .. "/pnet.mtn", p.init.path)
    local f = assert(io.open(first .. "/pnet.mtn", "rb"))
    assert.are.equal(("crc32c:%08x"):format(sys.crc32c(f:read("a"))), p.init.checksum)
    f:close()
    assert.are.equal(first, p.config.init)
    -- a net file works as well as its folder; the weights then move at the usual rate
    local moved = assert(run{cfg = settings(1, {init = first .. "/pnet.mtn"}), out = dir .. "/init_file",
                             seed = 9})
    assert.is_true(moved.final.loss < 2 * s1.final.loss, "fine-tuned val loss " .. moved.final.loss)

    -- nets that do not fit, named in the error
    assert(models.save(models.rnet{seed = 1}, dir .. "/an_rnet.mtn"))
    assert(models.save(models.pnet{seed = 1, landmarks = false}, dir .. "/no_landmarks.mtn"))
    for init, says in pairs{[dir .. "/an_rnet.mtn"] = "holds a rnet, not a pnet",
                            [dir .. "/no_landmarks.mtn"] = "no_landmarks.mtn has no parameter landmarks.weight: it has no landmark head",
                            [dir .. "/absent.mtn"] = "absent.mtn",
                            [dir] = "manifest.json",
                            ["no_such_model"] = "nor a bundled model of that name"} do
      local none, err = run{cfg = settings(1, {init = init}), out = dir .. "/init_bad", overwrite = true}
      assert.is_nil(none, init)
      assert.is_truthy(err:find("train.init", 1, true), err)
      assert.is_truthy(err:find(says, 1, true), err)
    end
  end)

  it("warms the rate up over lr_warmup steps, and stops a run whose loss diverges", function()
    local out = dir .. "/warm"
    assert(run{cfg = settings(1, {lr_warmup = 20}), out = out, seed = 3})
    local rates = {}
    for line in io.lines(out .. "/log.jsonl") do
      local e = json.decode(line)
      rates[e.step] = e.lr
    end
    helper.near(rates[5], 0.01 * 5 / 20, 1e-12)
    helper.near(rates[15], 0.01 * 15 / 20, 1e-12)
    helper.near(rates[20], 0.01, 1e-12)
    local m = assert(json.read_file(out .. "/manifest.json"))
    assert.are.equal(20, m.provenance.pnet.config.lr_warmup)
    -- a rate far too high: the run stops at the first step whose loss is not a number, says
    -- what to change, exits with 1 and writes no net
    local script = helper.q(helper.home .. "/scripts/train_pnet.lua")
    local _, code, err = helper.mtcnn(script .. " --train " .. helper.q(set.train) .. " --val "
      .. helper.q(table.concat(set.val, ",")) .. " --out " .. helper.q(dir .. "/diverged")
      .. " --lr 1e9 --batch 64 --quiet")
    assert.are.equal(1, code, err)
    assert.matches("the training diverged and stops", err, 1, true)
    assert.matches("train.lr (1e+09 now), a longer train.lr_warmup (0 steps now)", err, 1, true)
    local at = tonumber(err:match("at step (%d+)"))
    assert.is_true(at ~= nil and at < spe, err)
    assert.is_false(exists(dir .. "/diverged/pnet.mtn"))
    assert.is_false(exists(dir .. "/diverged/manifest.json"))
  end)

  it("gives clear errors for bad inputs", function()
    local script = helper.q(helper.home .. "/scripts/train_pnet.lua")
    local val = helper.q(table.concat(set.val, ","))
    local function script_run(args)
      local _, code, err = helper.mtcnn(script .. " " .. args)
      return code, err
    end
    local code, err
    if not mtcnn.cuda.available() then -- (with a GPU, spec/nn_gpu_spec.lua trains on it)
      code, err = script_run("--train " .. helper.q(set.train) .. " --val " .. val
        .. " --out " .. helper.q(dir .. "/cuda") .. " --device cuda")
      assert.are.equal(2, code)
      assert.is_truthy(err:find("--device cuda: ", 1, true), err)
      assert.is_truthy(err:find("no CUDA device available", 1, true)
        or err:find("no CUDA backend", 1, true), err)
    end
    code, err = script_run("--val " .. val .. " --out " .. helper.q(dir .. "/x"))
    assert.are.equal(2, code)
    assert.is_truthy(err:find("--train is required", 1, true), err)
    code, err = script_run("--train " .. helper.q(set.train) .. " --out " .. helper.q(dir .. "/x"))
    assert.are.equal(2, code)
    assert.is_truthy(err:find("--val is required", 1, true), err)
    code, err = script_run("--train " .. helper.q(set.train) .. " --val " .. val .. " --out "
      .. helper.q(dir .. "/x") .. " --set train.nope=1")
    assert.are.equal(2, code)
    assert.is_truthy(err:find("nope", 1, true), err)
    code, err = script_run("--train " .. helper.q(dir .. "/missing.rec") .. " --val " .. val
      .. " --out " .. helper.q(dir .. "/x"))
    assert.are.equal(1, code)
    assert.is_truthy(err:find("missing.rec", 1, true), err)
    code, err = script_run("--out " .. helper.q(dir .. "/nothing") .. " --resume")
    assert.are.equal(1, code)
    assert.is_truthy(err:find("no checkpoint", 1, true), err)

    -- in the module
    local s
    s, err = run{cfg = settings(1, {stratified = true}), out = dir .. "/y"}
    assert.is_nil(s)
    assert.is_truthy(err:find("stratified", 1, true), err)
    s, err = run{cfg = settings(1), out = dir .. "/y", val = {set.val[1], dir .. "/none.rec"}}
    assert.is_nil(s)
    assert.is_truthy(err:find("none.rec", 1, true), err)
    -- a file of another sample size
    local w = assert(mtcnn.record.writer(dir .. "/r24.rec", {size = 24}))
    w:add{image = string.rep("\0", 24 * 24 * 3), label = 0}
    assert(w:close())
    s, err = run{cfg = settings(1), out = dir .. "/y", train = dir .. "/r24.rec"}
    assert.is_nil(s)
    assert.is_truthy(err:find("24x24", 1, true), err)
    s, err = run{cfg = settings(1, {lr_epochs = {5, 2}}), out = dir .. "/y"}
    assert.is_nil(s)
    assert.is_truthy(err:find("lr_epochs", 1, true), err)
  end)
end)

describe("trainer on ONet", function()
  local dir, set, threads

  setup(function()
    threads = sys.threads()
    dir = helper.tmpdir()
    set = F.build(dir, {images = 1, val_images = 1, seed = 2, net = "onet"})
  end)

  teardown(function()
    sys.set_threads(threads)
    helper.rmdir(dir)
  end)

  -- stratified batches from a merge folder, and dropout: its generator must come back too
  it("resumes a run with stratified batches and dropout to the same weights", function()
    local function run(opts)
      local cfg = config.defaults("onet")
      -- small: ONet's step is slow in the sanitizer build
      cfg.train.epochs, cfg.train.batch, cfg.train.lr, cfg.train.checkpoint_every = 1, 6, 0.01, 3
      local o = {stage = "onet", cfg = cfg, train = set.train, val = set.val, threads = 2,
                 progress = false, note = quiet, curves = false, seed = 7}
      for k, v in pairs(opts) do o[k] = v end
      if o.resume then o.cfg = nil end -- the run's own settings
      return train.run(o)
    end
    local whole = assert(run{out = dir .. "/whole"})
    assert.are.equal(whole.steps_per_epoch, whole.steps)
    assert.is_true(whole.steps >= 6)
    local stop = 5
    local ok = pcall(run, {out = dir .. "/cut", on_step = function(ctx)
      if ctx.step == stop then error("stop") end
    end})
    assert.is_false(ok)
    local s = assert(run{out = dir .. "/cut", resume = true})
    assert.are.equal(dir .. "/cut/checkpoints/" .. checkpoint.name(3), s.resumed_from)
    same_weights(dir .. "/whole/onet.mtn", dir .. "/cut/onet.mtn")
    local m = assert(json.read_file(dir .. "/cut/manifest.json"))
    assert.are.same({onet = "onet.mtn"}, m.nets)
  end)

  it("fine-tunes the bundled original ONet (train.init naming the bundled model)", function()
    local cfg = config.defaults("onet")
    cfg.train.epochs, cfg.train.batch, cfg.train.checkpoint_every = 1, 6, 0
    cfg.train.init, cfg.train.lr, cfg.train.weight_decay = "original", 1e-30, 0
    local s = assert(train.run{stage = "onet", cfg = cfg, train = set.train, val = set.val,
      threads = 2, progress = false, note = quiet, curves = false, seed = 7, out = dir .. "/tuned"})
    assert.is_true(s.steps >= 1)
    -- the name resolved to the bundled folder's ONet, which the provenance names
    local m = assert(json.read_file(dir .. "/tuned/manifest.json"))
    assert.matches("models/original/onet.mtn", m.provenance.onet.init.path, 1, true)
    local a = assert(models.load(helper.home .. "/models/original/onet.mtn"))
    local pb = assert(models.load(dir .. "/tuned/onet.mtn")):named_parameters()
    for i, e in ipairs(a:named_parameters()) do
      assert.is_true(e.tensor:max_abs_diff(pb[i].tensor) < 1e-6, e.name)
    end
  end)
end)

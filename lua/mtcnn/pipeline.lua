-- mtcnn.pipeline: the whole training recipe (the seed's 17 steps, docs/training.md, 'Train the
-- whole cascade') as one resumable run; the module behind scripts/pipeline.lua.
--
--   mtcnn scripts/pipeline.lua --wider ../shared/data/wider --landmarks ../shared/data/landmarks \
--     --work work                          # ... then: detect.lua --model work/onet/model
--
-- Each step is one of the project's scripts, run as a child process of the same mtcnn host
-- (gen_pnet_data.lua, gen_landmark_data.lua, merge_records.lua, train_pnet.lua,
-- gen_hard_examples.lua, train_rnet.lua, train_onet.lua), with the command line printed before
-- it runs: a step is exactly what a user could type, each keeps its own progress bar, summary,
-- memory and thread pool, and a failing step ends the pipeline with its own message and exit
-- status. (Calling the scripts' Lua entry points in this process would share the default
-- generator, the thread count and the collector between steps, and the scripts end the
-- process on a failure.)
--
-- The work folder (WORK):
--   pnet/detection/  pnet/landmark/  pnet/train.rec  pnet/model/
--   rnet/hard/       rnet/landmark/  rnet/train/     rnet/model/   (PNet + RNet)
--   onet/hard/       onet/landmark/  onet/train/     onet/model/   (the whole cascade)
--   rnet/detection/  onet/detection/ the optional steps' samples (data.rnet_detection,
--                    data.onet_detection: drawn around the faces as PNet's, merged with the
--                    hard examples; the seed has no such step)
--   onet/landmark_windows/ the optional step's landmark samples framed by PNet + RNet's windows
--                    (data.onet_landmark_windows: gen_hard_examples.lua --landmarks, merged with
--                    the landmark samples)
--   STAGE/config.lua the stage's settings (defaults, --tiny, --config), given to each of its steps
--   pipeline.json    the steps finished: their command (the settings that shape the outputs),
--                    time, and what the check found
--   eval/            predictions and results of the final evaluation
--   summary.json     the last summary
--
-- A step is skipped when it is recorded as finished with the same command AND its outputs pass
-- its check (record counts equal to the summary's and the state's, merge outputs equal to the
-- merge report, a training run at its final checkpoint whose weights are the model file's). A
-- step with outputs but no record (killed, or run by hand) is continued with its own --resume,
-- which refuses other settings; a step whose command changed, whose outputs fail the check, or
-- that comes after a step run again, starts over (--force / --overwrite), and so do the steps
-- after it.

local mtcnn = require "mtcnn"
local child = require "mtcnn.child"
local cli = require "mtcnn.cli"
local config = require "mtcnn.config"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"
local record = require "mtcnn.record"
local hard = require "mtcnn.hard"

local pipeline = {}

pipeline.STATE_VERSION = 1
pipeline.STAGES = {"pnet", "rnet", "onet"}
local SIZE = {pnet = 12, rnet = 24, onet = 48}
local PREVIOUS = {rnet = "pnet", onet = "rnet"}

-- ---- settings -------------------------------------------------------------------------------

--- The pipeline's own sections of a --config file, beside the stages' (pnet, rnet, onet: each
--- a table that the stage's --config would take, by section or flat).
pipeline.DEFAULTS = {
  data = {
    wider_images = "all",   -- only the first N present WIDER train images (every step reads the same ones)
    landmark_faces = "all", -- only the first N present faces of the landmark list
    -- RNet's / ONet's training set also takes detection samples drawn around the annotated
    -- faces (gen_pnet_data.lua at the stage's size, with the stage's detection settings:
    -- random and near-face negatives, jittered positives and part faces), beside its hard
    -- examples (an extra step before the stage's merge; the seed's recipe has none)
    rnet_detection = false,
    onet_detection = false,
    -- ONet's training set also takes landmark samples framed as the cascade frames faces:
    -- PNet + RNet run over the landmark images and each window that frames a face becomes a
    -- landmark sample of it (gen_hard_examples.lua --landmarks, the section landmark_windows),
    -- beside the crops shifted around the list's boxes (an extra step before ONet's merge)
    onet_landmark_windows = false,
  },
  eval = {
    enabled = true,         -- evaluate the finished cascade and the bundled original model
    wider_images = "all",   -- WIDER val images evaluated (the first N present; "all": every one)
    landmark_faces = "all", -- faces of the landmark test list evaluated (the first N)
    preset = "original",    -- detector settings of both models (original, seed, wider)
  },
}

local copy = config.copy

local function check_own(section, t, where)
  if type(t) ~= "table" then return nil, ("%s: %s must be a table"):format(where, section) end
  local d = pipeline.DEFAULTS[section]
  for k, v in pairs(t) do
    if d[k] == nil then
      return nil, ("%s: unknown setting %s.%s"):format(where, section, tostring(k))
    end
    local ok
    if type(d[k]) == "boolean" then ok = type(v) == "boolean"
    elseif k == "preset" then ok = v == "original" or v == "seed" or v == "wider"
    else ok = v == "all" or (math.type(v) == "integer" and v > 0) end
    if not ok then
      return nil, ("%s: %s.%s must be %s, got %s"):format(where, section, k,
        type(d[k]) == "boolean" and "true or false" or k == "preset" and "original, seed or wider"
          or "\"all\" or a count > 0", tostring(v))
    end
  end
  return true
end

--- pipeline.load_config(files) -> settings | nil, message: the defaults changed by each file in
--- turn (a Lua file returning {data = {...}, eval = {...}, pnet = {...}, rnet = {...}, onet =
--- {...}}, every part optional). settings = {data, eval, pnet, rnet, onet} (the stages' full
--- mtcnn.config tables).
function pipeline.load_config(files)
  local s = copy(pipeline.DEFAULTS)
  for _, st in ipairs(pipeline.STAGES) do s[st] = config.defaults(st) end
  for _, path in ipairs(files or {}) do
    local chunk, err = loadfile(path, "t", {})
    if not chunk then return nil, err end
    local ok, t = pcall(chunk)
    if not ok then return nil, ("%s: %s"):format(path, tostring(t)) end
    if type(t) ~= "table" then return nil, path .. ": must return a table" end
    for k, v in pairs(t) do
      if pipeline.DEFAULTS[k] then
        local good, cerr = check_own(k, v, path)
        if not good then return nil, cerr end
        for kk, vv in pairs(v) do s[k][kk] = vv end
      elseif SIZE[k] then
        if type(v) ~= "table" then return nil, ("%s: %s must be a table of settings"):format(path, k) end
        local done, cerr = config.apply(k, s[k], v, ("%s (%s)"):format(path, k))
        if not done then return nil, cerr end
      else
        return nil, ("%s: unknown section '%s' (data, eval, pnet, rnet, onet)"):format(path, tostring(k))
      end
    end
  end
  return s
end

--- The settings of --tiny: lua/mtcnn/config/tiny.lua.
function pipeline.tiny_config()
  return (mtcnn.home or ".") .. "/lua/mtcnn/config/tiny.lua"
end

-- ---- small helpers --------------------------------------------------------------------------

local function exists(path) return sys.stat(path) ~= nil end

local q = child.quote

local function clock_text(seconds)
  if not seconds then return "" end
  seconds = math.floor(seconds + 0.5)
  return ("%d:%02d:%02d"):format(seconds // 3600, seconds // 60 % 60, seconds % 60)
end
pipeline.clock_text = clock_text

local function read_text(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function remove_tree(path)
  if exists(path) then os.execute("rm -rf " .. q(path)) end
end

-- Class counts of a record file: {positive, part, negative, landmark, total} | nil, message.
local function file_counts(path, size)
  local f, err = record.open(path, {size = size})
  if not f then return nil, err end
  local c = f:counts()
  local out = {positive = c.positive, part = c.part, negative = c.negative, landmark = c.landmark,
               total = f.count}
  f:close()
  return out
end

local CLASSES = {"positive", "part", "negative", "landmark"}

local function same_counts(a, b)
  for _, k in ipairs(CLASSES) do
    if (a[k] or 0) ~= (b[k] or 0) then return false end
  end
  return a.total == nil or b.total == nil or a.total == b.total
end

local function counts_text(c)
  return ("%d positive, %d part, %d negative, %d landmark"):format(c.positive or 0, c.part or 0,
    c.negative or 0, c.landmark or 0)
end

-- ---- the steps ------------------------------------------------------------------------------

--- pipeline.paths(work) -> the layout of the work folder (see the header).
function pipeline.paths(work)
  local p = {work = work, state = work .. "/pipeline.json", eval = work .. "/eval",
             summary = work .. "/summary.json", child_pid = work .. "/child.pid"}
  for _, st in ipairs(pipeline.STAGES) do
    local d = work .. "/" .. st
    p[st] = {dir = d, config = d .. "/config.lua", landmark = d .. "/landmark", model = d .. "/model",
             detection = d .. (st == "pnet" and "/detection" or "/hard"),
             train = d .. (st == "pnet" and "/train.rec" or "/train")}
    -- RNet's and ONet's optional detection samples (data.rnet_detection, data.onet_detection)
    if st ~= "pnet" then p[st].drawn = d .. "/detection" end
    -- ONet's optional landmark windows (data.onet_landmark_windows)
    if st == "onet" then p[st].windows = d .. "/landmark_windows" end
  end
  return p
end

-- The steps in order: numbers (the seed's), id, title, stage, kind, and the seed's command.
-- An optional step (optional: the name of its switch in the data section) runs only when its
-- switch is on; it is numbered after the seed's step before it ("9+").
pipeline.STEPS = {
  {numbers = {1}, id = "wider", kind = "wider", title = "WIDER FACE train images and annotations",
   seed = "WIDER_train and wider_face_train.txt in prepare_data/"},
  {numbers = {2}, id = "landmarks", kind = "landmark_data", title = "landmark images and list",
   seed = "the landmark set and trainImageList.txt in prepare_data/"},
  {numbers = {3}, id = "pnet-detection", stage = "pnet", kind = "detection",
   title = "PNet detection samples", seed = "prepare_data/gen_12net_data.py"},
  {numbers = {4}, id = "pnet-landmark", stage = "pnet", kind = "landmarks",
   title = "PNet landmark samples (12x12)", seed = "prepare_data/gen_landmark_aug_12.py"},
  {numbers = {5, 6}, id = "pnet-merge", stage = "pnet", kind = "merge",
   title = "PNet training records", seed = "gen_imglist_pnet.py, gen_PNet_tfrecords.py"},
  {numbers = {7}, id = "pnet-train", stage = "pnet", kind = "train", title = "train PNet",
   seed = "train_models/train_PNet.py"},
  {numbers = {8}, id = "rnet-hard", stage = "rnet", kind = "hard",
   title = "RNet hard examples (PNet)", seed = "prepare_data/gen_hard_example.py --test_mode PNet"},
  {numbers = {9}, id = "rnet-landmark", stage = "rnet", kind = "landmarks",
   title = "RNet landmark samples (24x24)", seed = "prepare_data/gen_landmark_aug_24.py"},
  {numbers = {9}, id = "rnet-detection", stage = "rnet", kind = "detection", optional = "rnet_detection",
   title = "RNet detection samples (24x24)", seed = "none (gen_12net_data.py's sampling, at 24x24)"},
  {numbers = {10, 11}, id = "rnet-merge", stage = "rnet", kind = "merge",
   title = "RNet training records", seed = "gen_imglist_rnet.py, gen_RNet_tfrecords.py (x4)"},
  {numbers = {12}, id = "rnet-train", stage = "rnet", kind = "train", title = "train RNet",
   seed = "train_models/train_RNet.py"},
  {numbers = {13}, id = "onet-hard", stage = "onet", kind = "hard",
   title = "ONet hard examples (PNet + RNet)", seed = "prepare_data/gen_hard_example.py --test_mode RNet"},
  {numbers = {14}, id = "onet-landmark", stage = "onet", kind = "landmarks",
   title = "ONet landmark samples (48x48)", seed = "prepare_data/gen_landmark_aug_48.py"},
  {numbers = {14}, id = "onet-detection", stage = "onet", kind = "detection", optional = "onet_detection",
   title = "ONet detection samples (48x48)", seed = "none (gen_12net_data.py's sampling, at 48x48)"},
  {numbers = {14}, id = "onet-landmark-windows", stage = "onet", kind = "landmark_windows",
   optional = "onet_landmark_windows", title = "ONet landmark windows (PNet + RNet)",
   seed = "none (landmark samples framed by the cascade's windows)"},
  {numbers = {15, 16}, id = "onet-merge", stage = "onet", kind = "merge",
   title = "ONet training records", seed = "gen_imglist_onet.py, gen_ONet_tfrecords.py (x4)"},
  {numbers = {17}, id = "onet-train", stage = "onet", kind = "train", title = "train ONet",
   seed = "train_models/train_ONet.py"},
}

--- pipeline.step_index(text) -> the index in STEPS of a step given by number (1..17: the
--- seed's step, not an optional one) or id.
function pipeline.step_index(text)
  local n = math.tointeger(tonumber(text))
  for i, s in ipairs(pipeline.STEPS) do
    if s.id == text then return i end
    if not s.optional then
      for _, k in ipairs(s.numbers) do if k == n then return i end end
    end
  end
  return nil
end

local function step_label(s)
  if s.optional then return s.numbers[1] .. "+" end
  return #s.numbers == 1 and tostring(s.numbers[1]) or (s.numbers[1] .. "-" .. s.numbers[#s.numbers])
end
pipeline.step_label = step_label

--- pipeline.step_on(settings, step) -> whether the step runs with these settings (an optional
--- step only when its switch is on).
function pipeline.step_on(settings, step)
  return not step.optional or settings.data[step.optional] == true
end

-- The optional step of a stage that makes samples of a kind (detection: RNet, ONet;
-- landmark_windows: ONet), or nil.
local function optional_step(st, kind)
  for _, s in ipairs(pipeline.STEPS) do
    if s.stage == st and s.kind == kind and s.optional then return s end
  end
end

-- The record files a stage's merge takes: its detection (PNet) or hard examples, the optional
-- detection samples of RNet / ONet when their step is on, its landmark samples, and ONet's
-- optional landmark windows when their step is on.
local function merge_inputs(ctx, st)
  local sp = ctx.paths[st]
  local function on(kind)
    local step = optional_step(st, kind)
    return step and pipeline.step_on(ctx.settings, step)
  end
  local l = {sp.detection .. "/train.rec"}
  if on("detection") then l[#l + 1] = sp.drawn .. "/train.rec" end
  l[#l + 1] = sp.landmark .. "/train.rec"
  if on("landmark_windows") then l[#l + 1] = sp.windows .. "/train.rec" end
  return l
end

-- The sources: annotation files, image folders (ctx.wider, ctx.landmarks are the folders given).
local function sources(ctx)
  local w, l = ctx.wider, ctx.landmarks
  return {
    wider_gt = w .. "/wider_face_split/wider_face_train_bbx_gt.txt",
    wider_images = w .. "/WIDER_train/images",
    landmark_list = l .. "/trainImageList.txt",
    landmark_images = l,
    -- (the evaluation's inputs: mtcnn.eval.runs, wider_paths and landmark_list)
    landmark_test = require("mtcnn.eval.runs").landmark_list(l) or l .. "/testImageList.txt",
  }
end

local function limit_args(n)
  if n == "all" then return {} end
  return {"--limit", tostring(n)}
end

-- The command of a step: {script, args...} with the arguments that shape its outputs (the
-- signature), and the flags that do not (threads, progress), kept apart.
local function command(ctx, step)
  local st, p, src, seed = step.stage, ctx.paths, ctx.sources, tostring(ctx.seed)
  local sp = st and p[st]
  local lim = ctx.settings.data
  if step.kind == "detection" then
    return {"gen_pnet_data.lua", "--annotations", src.wider_gt, "--images", src.wider_images,
            "--out", st == "pnet" and sp.detection or sp.drawn, "--seed", seed, "--config", sp.config,
            table.unpack(limit_args(lim.wider_images))}
  elseif step.kind == "landmarks" then
    return {"gen_landmark_data.lua", "--size", tostring(SIZE[st]), "--annotations", src.landmark_list,
            "--images", src.landmark_images, "--out", sp.landmark, "--seed", seed, "--config", sp.config,
            table.unpack(limit_args(lim.landmark_faces))}
  elseif step.kind == "hard" then
    return {"gen_hard_examples.lua", "--stage", st, "--model", p[PREVIOUS[st]].model,
            "--annotations", src.wider_gt, "--images", src.wider_images, "--out", sp.detection,
            "--seed", seed, "--config", sp.config, table.unpack(limit_args(lim.wider_images))}
  elseif step.kind == "landmark_windows" then
    return {"gen_hard_examples.lua", "--landmarks", "--stage", st, "--model", p[PREVIOUS[st]].model,
            "--annotations", src.landmark_list, "--images", src.landmark_images, "--out", sp.windows,
            "--seed", seed, "--config", sp.config, table.unpack(limit_args(lim.landmark_faces))}
  elseif step.kind == "merge" then
    local c = {"merge_records.lua", "--net", st, "--out", sp.train, "--seed", seed, "--config", sp.config}
    for _, f in ipairs(merge_inputs(ctx, st)) do c[#c + 1] = f end
    return c
  elseif step.kind == "train" then
    local val = sp.detection .. "/val.rec," .. sp.landmark .. "/val.rec"
    -- (validation does not change the weights: the windows' held-out images are judged too)
    local windows = optional_step(st, "landmark_windows")
    if windows and pipeline.step_on(ctx.settings, windows) then val = val .. "," .. sp.windows .. "/val.rec" end
    local c = {"train_" .. st .. ".lua", "--train", sp.train, "--val", val,
               "--out", sp.model, "--seed", seed, "--config", sp.config}
    if PREVIOUS[st] then
      c[#c + 1] = "--previous"
      c[#c + 1] = p[PREVIOUS[st]].model
    end
    return c
  end
end

-- What a step's outputs are: the folder or file it writes.
local function output_of(ctx, step)
  local sp = ctx.paths[step.stage]
  if step.kind == "detection" and step.stage ~= "pnet" then return sp.drawn end
  if step.kind == "detection" or step.kind == "hard" then return sp.detection end
  if step.kind == "landmarks" then return sp.landmark end
  if step.kind == "landmark_windows" then return sp.windows end
  if step.kind == "merge" then return sp.train end
  if step.kind == "train" then return sp.model end
end

-- ---- checks: is a step's output complete? ----------------------------------------------------

-- A generation (detection, landmark or hard samples): summary.json (written last, after the
-- files are closed), both record files with the summary's class counts, and state.json's
-- committed counts the same. Returns info | nil, reason.
local function check_generation(dir, size)
  local summary = json.read_file(dir .. "/summary.json")
  if type(summary) ~= "table" or type(summary.samples) ~= "table" then
    return nil, "no summary.json (the generation did not finish)"
  end
  local state = json.read_file(dir .. "/state.json")
  local info = {samples = {}, summary = summary}
  for _, side in ipairs({"train", "val"}) do
    local want = summary.samples[side]
    if type(want) ~= "table" then return nil, "summary.json lacks the " .. side .. " counts" end
    local have, err = file_counts(dir .. "/" .. side .. ".rec", size)
    if not have then return nil, err end
    if not same_counts(have, want) then
      return nil, ("%s.rec holds %s, its summary says %s"):format(side, counts_text(have), counts_text(want))
    end
    if type(state) == "table" and type(state.committed) == "table" and state.committed[side]
       and state.committed[side] ~= have.total then
      return nil, ("%s.rec holds %d samples, state.json %d"):format(side, have.total, state.committed[side])
    end
    info.samples[side] = have
  end
  return info
end

-- A merge: every output file with the class counts of the merge report (recorded when it ran),
-- and its inputs still holding what the report found.
local function check_merge(ctx, step, rec)
  local report = rec and rec.report
  if type(report) ~= "table" or type(report.outputs) ~= "table" then
    return nil, "no merge report recorded"
  end
  local size = SIZE[step.stage]
  local taken = {positive = 0, part = 0, negative = 0, landmark = 0}
  for _, o in ipairs(report.outputs) do
    local have, err = file_counts(o.path, size)
    if not have then return nil, err end
    if have.total ~= o.count then
      return nil, ("%s holds %d samples, the merge wrote %d"):format(o.path, have.total, o.count)
    end
    for _, k in ipairs(CLASSES) do taken[k] = taken[k] + have[k] end
  end
  if not same_counts(taken, report.taken) then
    return nil, ("the merged files hold %s, the merge took %s"):format(counts_text(taken), counts_text(report.taken))
  end
  local available = {positive = 0, part = 0, negative = 0, landmark = 0}
  for _, input in ipairs(merge_inputs(ctx, step.stage)) do
    local have, err = file_counts(input, size)
    if not have then return nil, err end
    for _, k in ipairs(CLASSES) do available[k] = available[k] + have[k] end
  end
  if not same_counts(available, report.available) then
    return nil, "its inputs changed since the merge"
  end
  return {taken = taken, available = available}
end

-- A training run: the newest checkpoint is the run's last step, the model file holds its
-- weights, and the manifest names the stage (and the earlier ones).
local function check_training(ctx, step)
  local st = step.stage
  local dir = ctx.paths[st].model
  local checkpoint = require "mtcnn.train.checkpoint"
  if #checkpoint.list(dir .. "/checkpoints") == 0 then return nil, "no checkpoint" end
  local state, tensors, path = checkpoint.latest(dir .. "/checkpoints")
  if not state then return nil, tensors end
  if state.step ~= state.total_steps then
    return nil, ("the newest checkpoint is at step %d of %d"):format(state.step, state.total_steps)
  end
  local manifest = json.read_file(dir .. "/manifest.json")
  if type(manifest) ~= "table" or type(manifest.nets) ~= "table" or manifest.nets[st] ~= st .. ".mtn" then
    return nil, "no manifest.json naming " .. st
  end
  for _, s in ipairs(pipeline.STAGES) do
    if s == st then break end
    if not manifest.nets[s] or not exists(dir .. "/" .. manifest.nets[s]) then
      return nil, ("the model folder lacks the earlier stage %s"):format(s)
    end
  end
  local net, err = require("mtcnn.models").load(dir .. "/" .. st .. ".mtn")
  if not net then return nil, err end
  for i, e in ipairs(net:named_parameters()) do
    if state.params[i] ~= e.name or not tensors[i] or not tensors[i]:equal(e.tensor) then
      return nil, ("%s.mtn does not hold the weights of %s"):format(st, path:match("[^/]+$"))
    end
  end
  local prov = type(manifest.provenance) == "table" and manifest.provenance[st] or {}
  return {steps = state.step, epochs = state.config.train.epochs, validation = prov.validation,
          history = state.history, seconds = state.elapsed}
end

local function check_step(ctx, step, rec)
  local kind = step.kind
  if kind == "detection" or kind == "hard" or kind == "landmarks" or kind == "landmark_windows" then
    return check_generation(output_of(ctx, step), SIZE[step.stage])
  elseif kind == "merge" then
    return check_merge(ctx, step, rec)
  elseif kind == "train" then
    return check_training(ctx, step)
  end
end
pipeline.check_step = check_step

-- ---- the data steps (1, 2) ------------------------------------------------------------------

local function check_data(ctx, step)
  local data = require "mtcnn.data"
  local src = ctx.sources
  local entries, stats
  if step.kind == "wider" then
    if not exists(src.wider_gt) then return nil, "no " .. src.wider_gt end
    if not exists(src.wider_images) then return nil, "no image folder " .. src.wider_images end
    entries, stats = data.read_wider(src.wider_gt, {images = src.wider_images})
  else
    if not exists(src.landmark_list) then return nil, "no " .. src.landmark_list end
    entries, stats = data.read_landmarks(src.landmark_list, {images = src.landmark_images})
  end
  if not entries then return nil, stats end
  if #entries == 0 then
    return nil, ("none of the %d images listed is present"):format(stats.listed)
  end
  local limit = step.kind == "wider" and ctx.settings.data.wider_images or ctx.settings.data.landmark_faces
  local used = limit == "all" and #entries or math.min(limit, #entries)
  local faces = 0
  for i = 1, used do faces = faces + (entries[i].faces and #entries[i].faces or 1) end
  local info = {listed = stats.listed, present = #entries, missing = stats.missing, used = used, faces = faces}
  if step.kind == "wider" then
    info.text = ("%d images listed, %d present (%d missing); using %d with %d faces"):format(
      stats.listed, #entries, stats.missing, used, faces)
  else
    info.text = ("%d faces listed, %d present (%d missing); using %d"):format(stats.listed, #entries,
      stats.missing, used)
  end
  return info
end

-- ---- the state file -------------------------------------------------------------------------

local function load_state(path)
  if not exists(path) then return {version = pipeline.STATE_VERSION, steps = {}, stale = {}} end
  local s, err = json.read_file(path)
  if not s then return nil, err end
  if s.version ~= pipeline.STATE_VERSION then
    return nil, ("%s: version %s, this build writes %d"):format(path, tostring(s.version), pipeline.STATE_VERSION)
  end
  s.steps, s.stale = s.steps or {}, s.stale or {}
  return s
end

local function save_state(ctx)
  local ok, err = sys.write_atomic(ctx.paths.state, json.encode(ctx.state, {indent = "  "}) .. "\n")
  if not ok then error(err, 0) end
end

-- ---- running a child ------------------------------------------------------------------------

-- A step of an earlier pipeline still running (its pid recorded, the process alive and an mtcnn
-- host) would write into the same files.
local function running_child(ctx)
  local text = read_text(ctx.paths.child_pid)
  local pid = text and math.tointeger(tonumber(text:match("%d+")))
  if not pid then return nil end
  local cmd = read_text("/proc/" .. pid .. "/cmdline")
  if cmd and cmd:find("%.lua") then return pid end
  return nil
end

-- Runs script args... in the host; returns true | nil, message. stdout_file: where the child's
-- stdout goes (nil: this process's).
local function run_child(ctx, argv, stdout_file)
  return child.run(argv, {bin = ctx.bin, scripts = ctx.scripts, threads = ctx.threads,
                          stdout = stdout_file, pid_file = ctx.paths.child_pid})
end

-- ---- one step -------------------------------------------------------------------------------

local function say(ctx, fmt, ...)
  if ctx.json then io.stderr:write(fmt:format(...), "\n") else print(fmt:format(...)) end
end

-- The flags that do not change a step's outputs: threads, progress, and how it starts.
local function run_flags(ctx, step, mode)
  local f = {}
  if step.kind ~= "merge" then
    f[#f + 1] = "--threads"
    f[#f + 1] = tostring(ctx.threads)
  end
  if ctx.quiet or step.kind == "merge" then f[#f + 1] = "--quiet" end
  if mode == "resume" and step.kind ~= "merge" then f[#f + 1] = "--resume" end
  if mode == "fresh" then
    if step.kind == "train" then f[#f + 1] = "--overwrite"
    elseif step.kind ~= "merge" then f[#f + 1] = "--force" end
  end
  if step.kind == "merge" then f[#f + 1] = "--json" end
  return f
end

local function invalidate_after(ctx, index)
  for i = index + 1, #pipeline.STEPS do
    local id = pipeline.STEPS[i].id
    if ctx.state.steps[id] or exists(output_of(ctx, pipeline.STEPS[i]) or "") then
      ctx.state.stale[id] = true
    end
    ctx.state.steps[id] = nil
  end
end

-- The settings that shape a step's outputs, as text: its sections of the stage's config.
local SECTIONS = {detection = {"detection"}, landmarks = {"detection", "landmark"},
                  hard = {"detection", "hard"}, landmark_windows = {"detection", "hard", "landmark_windows"},
                  merge = {"merge"}, train = {"train"}}

-- Settings added after work folders were first made: omit(value, section) says when one is
-- left out of a signature (while it changes nothing), so that such a folder keeps its
-- finished steps.
local ADDED = {
  train = {init = function(v) return v == "" end, lr_warmup = function(v) return v == 0 end},
  hard = {hard_face_min_side = function(_, sec) return hard.face_min_side(sec) == nil end},
}

local function step_settings(ctx, step)
  local cfg, part = ctx.settings[step.stage], {}
  for _, name in ipairs(SECTIONS[step.kind]) do
    local sec = cfg[name]
    if ADDED[name] then
      local kept = {}
      for k, v in pairs(sec) do
        local omit = ADDED[name][k]
        if not (omit and omit(v, sec)) then kept[k] = v end
      end
      sec = kept
    end
    part[name] = sec
  end
  return config.to_lua(part, step.stage)
end

-- Runs (or skips) step i. Returns its result entry | nil, message.
local function do_step(ctx, i, forced)
  local step = pipeline.STEPS[i]
  local label = step_label(step)
  local t0 = sys.clock()
  if step.kind == "wider" or step.kind == "landmark_data" then
    local info, err = check_data(ctx, step)
    if not info then return nil, ("step %s (%s): %s"):format(label, step.title, err) end
    say(ctx, "step %s/17 %s: %s", label, step.title, info.text)
    return {id = step.id, status = "checked", seconds = sys.clock() - t0, info = info}
  end
  local argv = command(ctx, step)
  local signature = table.concat(argv, " ") .. "\n" .. step_settings(ctx, step)
  local rec = ctx.state.steps[step.id]
  local out = output_of(ctx, step)
  local mode
  if forced or ctx.state.stale[step.id] then
    mode = "fresh"
  elseif rec and rec.signature == signature then
    local info, why = check_step(ctx, step, rec)
    if info then
      say(ctx, "step %s/17 %s: done (%s, checked)", label, step.title, clock_text(rec.seconds))
      return {id = step.id, status = "done", seconds = rec.seconds, info = info, record = rec}
    end
    say(ctx, "step %s/17 %s: its outputs fail the check (%s): starting it again", label, step.title, why)
    mode = "fresh"
  elseif rec then
    say(ctx, "step %s/17 %s: its settings changed: starting it again", label, step.title)
    mode = "fresh"
  elseif exists(out) and step.kind ~= "merge" then
    -- a training killed before its first checkpoint has nothing to resume from
    local ck = step.kind == "train" and require("mtcnn.train.checkpoint").list(out .. "/checkpoints")
    mode = (ck and #ck == 0) and "fresh" or "resume"
  else
    mode = "new"
  end
  if mode == "fresh" then
    ctx.state.steps[step.id] = nil
    invalidate_after(ctx, i)
    if step.kind == "train" then
      os.remove(out .. "/" .. step.stage .. ".mtn")
      os.remove(out .. "/manifest.json")
    end
    if not exists(out) then mode = "new" end
  end
  ctx.state.stale[step.id] = nil
  save_state(ctx)

  local full = {}
  for k, v in ipairs(argv) do full[k] = v end
  for _, f in ipairs(run_flags(ctx, step, mode)) do full[#full + 1] = f end
  say(ctx, "\nstep %s/17 %s%s (the seed's %s)\n$ %s", label, step.title,
    mode == "resume" and ", continued" or "", step.seed, child.display(full))
  local stdout_file
  if step.kind == "merge" then
    stdout_file = out .. ".report.json"
  elseif ctx.json then
    stdout_file = ctx.paths.work .. "/" .. step.id .. ".out"
  end
  local ok, err, code = run_child(ctx, full, stdout_file)
  if not ok then
    if code == "signal" then return nil, err, true end
    if mode == "resume" then
      err = err .. (" (it continued the outputs already in %s; if their settings differ, start the "
        .. "step again with --from %s)"):format(out, step.id)
    end
    -- the step's own status 3 (an output it could not write) is the pipeline's too
    return nil, ("step %s (%s): %s"):format(label, step.title, err), false, code
  end
  local seconds = sys.clock() - t0
  local new_rec = {signature = signature, seconds = seconds, finished = os.date("!%Y-%m-%dT%H:%M:%SZ"),
                   resumed = mode == "resume" or nil}
  if step.kind == "merge" then
    local report, rerr = json.read_file(stdout_file)
    os.remove(stdout_file)
    if not report then return nil, ("step %s: the merge report: %s"):format(label, rerr) end
    new_rec.report = report
    say(ctx, "merged: %s", counts_text(report.taken))
  end
  local info, why = check_step(ctx, step, new_rec)
  if not info then
    return nil, ("step %s (%s) ended, but its outputs fail the check: %s"):format(label, step.title, why)
  end
  ctx.state.steps[step.id] = new_rec
  save_state(ctx)
  say(ctx, "step %s/17 %s: finished in %s", label, step.title, clock_text(seconds))
  return {id = step.id, status = mode == "resume" and "continued" or "ran", seconds = seconds,
          info = info, record = new_rec}
end

-- ---- evaluation -----------------------------------------------------------------------------

-- Evaluates a model folder on WIDER val and the landmark test list with mtcnn.eval.runs (as
-- compare_models.lua does; results and their cache in WORK/eval, keyed on the model's manifest
-- and nets and on the inputs). Returns {wider, landmarks} (each result's summary, with the
-- seconds it took) | nil, message.
local function evaluate_model(ctx, name, dir)
  local runs = require "mtcnn.eval.runs"
  local ev = ctx.settings.eval
  local edir = ctx.paths.eval
  local ok, err = sys.mkdir(edir)
  if not ok then return nil, ("cannot create %s: %s"):format(edir, tostring(err)) end
  local m
  m, err = runs.model(dir)
  if not m then return nil, err end
  m.label, m.slug = name, name
  local evals = runs.new{out = edir, threads = ctx.threads,
    say = function(fmt, ...) say(ctx, fmt, ...) end,
    run = function(argv, stdout_file)
      say(ctx, "$ %s", child.display(argv))
      return run_child(ctx, argv, stdout_file or "/dev/null")
    end}
  local function count(v) if v ~= "all" then return v end end
  -- each kind: the set of inputs, or a note that the data folder lacks them
  local kinds = {
    {"wider", runs.wider_set, {wider = ctx.wider, out = edir, images = count(ev.wider_images)},
     "no WIDER val images, annotations or eval_tools under " .. ctx.wider},
    {"landmarks", runs.landmark_set, {landmarks = ctx.landmarks, out = edir, faces = count(ev.landmark_faces)},
     "no landmark test list under " .. ctx.landmarks},
  }
  local result = {}
  for _, k in ipairs(kinds) do
    local what = k[1]
    local set, serr, why = k[2](k[3])
    if set then
      local t0 = sys.clock()
      local doc, derr = evals[what](evals, m, ev.preset, set)
      if not doc then return nil, derr end
      result[what] = doc.summary
      result[what].seconds = sys.clock() - t0
    elseif why == "missing" then
      result[what .. "_missing"] = k[4]
    else
      return nil, serr
    end
  end
  if evals.output_failed then return nil, "cannot write the evaluation's cache in " .. edir end
  return result
end

-- ---- the summary ----------------------------------------------------------------------------

local function fmt(v, f)
  if type(v) ~= "number" or v ~= v then return "-" end
  return (f or "%.4f"):format(v)
end

-- The summary of a run from the results of its steps: samples per class per stage, time per
-- step, validation metrics per net, evaluation.
local function build_summary(ctx, results, evaluation)
  local s = {work = ctx.paths.work, seed = ctx.seed, threads = ctx.threads, config = ctx.config_files,
             steps = {}, samples = {}, validation = {}, history = {}, evaluation = evaluation,
             model = ctx.paths.onet.model}
  local total = 0
  for _, r in ipairs(results) do
    local step = pipeline.STEPS[pipeline.step_index(r.id)]
    s.steps[#s.steps + 1] = {id = r.id, numbers = step.numbers, title = step.title, status = r.status,
                             seconds = r.seconds}
    total = total + (r.seconds or 0)
    local st = step.stage
    if st then
      s.samples[st] = s.samples[st] or {}
      local info = r.info or {}
      if step.kind == "detection" or step.kind == "hard" then
        s.samples[st][step.kind == "hard" and "hard" or "detection"] = info.samples
        local sum = info.summary
        if sum and sum.recall then s.samples[st].recall = sum.recall end
        if step.kind == "hard" and sum and type(sum.run) == "table" then
          local done = type(sum.images) == "table" and sum.images.done or 0
          s.mining = s.mining or {}
          s.mining[st] = {recall = sum.recall, peak_rss_mb = sum.run.peak_rss_mb,
                          images_per_s = sum.run.images_per_s, images = done,
                          windows_per_image = type(sum.tally) == "table" and done > 0
                            and (sum.tally.windows or 0) / done or nil}
        end
      elseif step.kind == "landmarks" then
        s.samples[st].landmark = info.samples
      elseif step.kind == "landmark_windows" then
        s.samples[st].landmark_windows = info.samples
      elseif step.kind == "merge" then
        s.samples[st].merged = info.taken
      elseif step.kind == "train" then
        s.validation[st] = info.validation
        local h = {}
        for _, e in ipairs(info.history or {}) do
          h[#h + 1] = {epoch = e.epoch, train_loss = e.train and e.train.loss, val_loss = e.val and e.val.loss,
                       val_accuracy = e.val and e.val.accuracy}
        end
        s.history[st] = h
      end
    end
  end
  s.seconds = total
  return s
end

local function print_summary(s)
  print("\nsummary of the pipeline in " .. s.work)
  print(("%-6s %-36s %-10s %9s"):format("step", "", "", "time"))
  for _, st in ipairs(s.steps) do
    local n = #st.numbers == 1 and tostring(st.numbers[1]) or (st.numbers[1] .. "-" .. st.numbers[#st.numbers])
    print(("%-6s %-36s %-10s %9s"):format(n, st.title, st.status, clock_text(st.seconds)))
  end
  print(("%-6s %-36s %-10s %9s"):format("", "total", "", clock_text(s.seconds)))
  print("\nsamples (train + validation)   positive       part   negative   landmark")
  for _, st in ipairs(pipeline.STAGES) do
    local c = s.samples[st]
    if c then
      for _, src in ipairs({"detection", "hard", "landmark", "landmark_windows", "merged"}) do
        local x = c[src]
        if x then
          local row = x
          if x.train then
            row = {}
            for _, k in ipairs(CLASSES) do row[k] = x.train[k] + x.val[k] end
          end
          local name = src == "merged" and "training set" or src:gsub("_", " ")
          print(("%-4s %-25s %10d %10d %10d %10d"):format(st, name, row.positive, row.part, row.negative,
            row.landmark))
        end
      end
    end
  end
  for _, st in ipairs({"rnet", "onet"}) do
    local m = s.mining and s.mining[st]
    if m then
      print(("%s mining with %s: recall %s of the faces (side >= 20), %s windows per image, %s "
        .. "images/s, peak memory %s MB"):format(st, st == "rnet" and "PNet" or "PNet + RNet",
        fmt(m.recall, "%.3f"), fmt(m.windows_per_image, "%.0f"), fmt(m.images_per_s, "%.2f"),
        fmt(m.peak_rss_mb, "%.0f")))
    end
  end
  local any = false
  for _, st in ipairs(pipeline.STAGES) do
    local v = s.validation[st]
    if v then
      if not any then
        print("\nvalidation, last epoch: loss  accuracy (pos, neg)  recall@thr  neg. passing  box IoU  landmark NME")
        any = true
      end
      print(("%-4s %20s  %s (%s, %s)  %s@%s  %s  %s  %s"):format(st, fmt(v.loss), fmt(v.accuracy),
        fmt(v.accuracy_positive), fmt(v.accuracy_negative), fmt(v.recall), tostring(v.threshold),
        fmt(v.fpr), fmt(v.box_iou), fmt(v.landmark_nme)))
    end
  end
  local ev = s.evaluation
  if ev then
    print(("\nevaluation (detector preset %s):"):format(ev.preset))
    local w = ev.trained and ev.trained.wider or ev.original and ev.original.wider
    if w then
      print(("WIDER FACE val, %d images (--iou exact) and landmarks, %s:"):format(w.images,
        ev.landmark_list or "-"))
    end
    print(("%-10s %8s %8s %8s %10s %10s %8s"):format("model", "easy", "medium", "hard", "NME", "failures", "misses"))
    for _, name in ipairs({"trained", "original"}) do
      local r = ev[name]
      if r then
        local wr, lm = r.wider or {}, r.landmarks or {}
        print(("%-10s %8s %8s %8s %10s %10s %8s"):format(name, fmt(wr.easy, "%.3f"), fmt(wr.medium, "%.3f"),
          fmt(wr.hard, "%.3f"), fmt(lm.nme), type(lm.failure_rate) == "number" and ("%.1f%%"):format(100 * lm.failure_rate) or "-",
          type(lm.misses) == "number" and tostring(lm.misses) or "-"))
      end
    end
    for _, name in ipairs({"trained", "original"}) do
      local r = ev[name] or {}
      if r.wider_missing then print("note: " .. r.wider_missing) end
      if r.landmarks_missing then print("note: " .. r.landmarks_missing) end
    end
  end
  if s.finished then
    print(("\nthe cascade: %s (mtcnn scripts/detect.lua --model %s IMAGE)"):format(s.model, s.model))
  end
end
pipeline.print_summary = print_summary

-- ---- the run --------------------------------------------------------------------------------

--- pipeline.run(opts) -> summary | nil, message [, 3: a step could not write its outputs].
--- opts: wider, landmarks (folders), work, from, to (step indices into STEPS; from: that step
--- and the later ones start over), config (files, applied in order), threads, seed, quiet (no
--- progress bars), json (the steps' output kept in WORK, messages on stderr), eval (false: no
--- evaluation).
function pipeline.run(opts)
  local settings, err = pipeline.load_config(opts.config)
  if not settings then return nil, err end
  local work = opts.work:gsub("(.)/$", "%1")
  local ctx = {
    wider = opts.wider:gsub("(.)/$", "%1"), landmarks = opts.landmarks:gsub("(.)/$", "%1"),
    paths = pipeline.paths(work), settings = settings, seed = opts.seed or 1,
    threads = opts.threads or sys.cpu_count(), quiet = opts.quiet, json = opts.json,
    bin = opts.bin or child.host_binary(), scripts = (mtcnn.home or ".") .. "/scripts",
    config_files = opts.config or {}, config_text = {},
  }
  ctx.sources = sources(ctx)
  local ok
  ok, err = sys.mkdir(work)
  if not ok then return nil, ("cannot create %s: %s"):format(work, tostring(err)) end
  local pid = running_child(ctx)
  if pid then
    return nil, ("a step of an earlier run is still running in %s (process %d): let it end or stop it "
      .. "first"):format(work, pid)
  end
  ctx.state, err = load_state(ctx.paths.state)
  if not ctx.state then return nil, err end
  for _, st in ipairs(pipeline.STAGES) do
    sys.mkdir(ctx.paths[st].dir)
    local text = config.to_lua(settings[st], st, ("the %s settings of the pipeline in %s (every step of "
      .. "the stage takes this file as --config)"):format(st, work))
    if read_text(ctx.paths[st].config) ~= text then
      ok, err = sys.write_atomic(ctx.paths[st].config, text)
      if not ok then return nil, err end
    end
  end

  local from, to = opts.from or 1, opts.to or #pipeline.STEPS
  -- --from: that step starts again (the first one with outputs, for --from 1 or 2), and with
  -- it every later one
  local forced
  if opts.from then
    forced = from
    while not pipeline.STEPS[forced].stage or not pipeline.step_on(settings, pipeline.STEPS[forced]) do
      forced = forced + 1
    end
  end
  local results = {}
  local t_start = sys.clock()
  for i = 1, to do
    local step = pipeline.STEPS[i]
    local r, serr, interrupted
    if not pipeline.step_on(settings, step) then
      -- an optional step that is off: its outputs, if any, are not used
      goto next_step
    elseif i < from and step.stage then
      -- before --from: taken as they are, but checked
      local rec = ctx.state.steps[step.id]
      local info, why = check_step(ctx, step, rec)
      if not rec or not info then
        return nil, ("--from %s: step %s (%s) is not finished%s"):format(pipeline.STEPS[from].id,
          step_label(step), step.title, why and (": " .. why) or "")
      end
      say(ctx, "step %s/17 %s: done (%s, checked)", step_label(step), step.title, clock_text(rec.seconds))
      r = {id = step.id, status = "done", seconds = rec.seconds, info = info, record = rec}
    else
      local status
      r, serr, interrupted, status = do_step(ctx, i, i == forced)
      if not r then
        if interrupted then return nil, serr .. ": the pipeline stops (run it again to continue)" end
        return nil, serr, status == 3 and 3 or nil
      end
    end
    results[#results + 1] = r
    ::next_step::
  end

  local evaluation
  if to == #pipeline.STEPS and settings.eval.enabled and opts.eval ~= false then
    say(ctx, "\nevaluation of the cascade and of the bundled original model")
    evaluation = {preset = settings.eval.preset, landmark_list = ctx.sources.landmark_test}
    local t0 = sys.clock()
    local detector = require "mtcnn.detector"
    for _, m in ipairs({{"trained", ctx.paths.onet.model}, {"original", detector.default_model()}}) do
      local r, eerr = evaluate_model(ctx, m[1], m[2])
      if not r then return nil, ("evaluation of the %s model: %s"):format(m[1], eerr) end
      evaluation[m[1]] = r
    end
    evaluation.seconds = sys.clock() - t0
  end
  local summary = build_summary(ctx, results, evaluation)
  summary.finished = to == #pipeline.STEPS
  summary.session_seconds = sys.clock() - t_start
  sys.write_atomic(ctx.paths.summary, json.encode(summary, {indent = "  "}) .. "\n")
  return summary
end

-- ---- the command line -----------------------------------------------------------------------

function pipeline.spec()
  return {
    name = "pipeline.lua",
    usage = "mtcnn scripts/pipeline.lua --wider DIR --landmarks DIR --work DIR [options]",
    description = "Trains the whole cascade from WIDER FACE and the landmark set: the seed's 17 steps\n"
      .. "(sample generation, merging, training of PNet, hard examples with the trained PNet, RNet,\n"
      .. "then ONet's), each a script of this project run in turn, then evaluates the cascade beside\n"
      .. "the bundled original model. Finished steps are skipped after a check of their outputs, an\n"
      .. "interrupted step continues where it stopped; run the same command again after a kill.",
    options = {
      {name = "wider", kind = "string", metavar = "DIR",
       help = "WIDER FACE: WIDER_train/images, wider_face_split/ (and WIDER_val/, eval_tools/ for the evaluation)"},
      {name = "landmarks", kind = "string", metavar = "DIR",
       help = "the landmark set: trainImageList.txt and its images (testImageList[.dev].txt for the evaluation)"},
      {name = "work", kind = "string", metavar = "DIR", help = "the work folder: every step's outputs"},
      {name = "from", kind = "string", metavar = "STEP",
       help = "start again at this step (1-17 or its name, e.g. rnet-train); earlier ones must be finished"},
      {name = "to", kind = "string", metavar = "STEP", help = "stop after this step"},
      {name = "tiny", kind = "flag",
       help = "a small quick run (lua/mtcnn/config/tiny.lua: a few dozen images, few epochs)"},
      {name = "config", kind = "string", metavar = "FILE",
       help = "settings of every stage in one file (docs/training.md): {pnet = {train = {epochs = 20}}, rnet = {...}, ...}"},
      {name = "threads", kind = "int", metavar = "N", help = "threads of every step [default: all cores]"},
      {name = "seed", kind = "int", default = 1, help = "seed of every step (samples, split, weights, batches)"},
      {name = "no-eval", kind = "flag", help = "skip the final evaluation"},
      {name = "list", kind = "flag", help = "list the steps with their commands and states, run nothing"},
      {name = "json", kind = "flag", help = "print the summary as one JSON object (the steps' output goes to WORK/*.out)"},
      {name = "quiet", kind = "flag", help = "no progress bars"},
    },
  }
end

-- The step list with each step's state (for --list).
local function list_steps(args, files)
  local settings, err = pipeline.load_config(files)
  if not settings then return nil, err end
  local work = args.work:gsub("(.)/$", "%1")
  local ctx = {wider = args.wider:gsub("(.)/$", "%1"), landmarks = args.landmarks:gsub("(.)/$", "%1"),
               paths = pipeline.paths(work), settings = settings, seed = args.seed}
  ctx.sources = sources(ctx)
  local state = load_state(ctx.paths.state) or {steps = {}, stale = {}}
  for _, step in ipairs(pipeline.STEPS) do
    local line = ("%-6s %-21s %-40s "):format(step_label(step), step.id, step.title)
    if not pipeline.step_on(settings, step) then
      print(line .. ("off (data.%s)"):format(step.optional))
    elseif step.stage then
      local rec = state.steps[step.id]
      local info = rec and check_step(ctx, step, rec)
      local st = info and "finished" or state.stale[step.id] and "to redo"
        or exists(output_of(ctx, step)) and "started" or "to do"
      print(line .. st)
      print("       $ " .. child.display(command(ctx, step)))
    else
      print(line .. "checked at each run")
    end
    print("       the seed: " .. step.seed)
  end
  return true
end

--- pipeline.main(argv): scripts/pipeline.lua. Exit status 0 done, 1 a step failed, 2 a bad
--- command line, 130 interrupted.
function pipeline.main(argv)
  local spec = pipeline.spec()
  local args, fail = cli.script(argv, spec)
  for _, k in ipairs({"wider", "landmarks", "work"}) do
    if not args[k] then fail("--" .. k .. " is required", 2) end
  end
  if args.threads and (args.threads < 1 or args.threads > 64) then fail("--threads must lie in 1..64", 2) end
  local from, to
  if args.from then
    from = pipeline.step_index(args.from)
    if not from then fail("--from: no step " .. args.from .. " (1-17 or a name: see --list)", 2) end
  end
  if args.to then
    to = pipeline.step_index(args.to)
    if not to then fail("--to: no step " .. args.to .. " (1-17 or a name: see --list)", 2) end
  end
  if from and to and to < from then fail("--to comes before --from", 2) end
  local files = {}
  if args.tiny then files[#files + 1] = pipeline.tiny_config() end
  if args.config then files[#files + 1] = args.config end
  if args.list then
    local ok, err = list_steps(args, files)
    if not ok then fail(err, 2) end
    return
  end
  local summary, err, status = pipeline.run{wider = args.wider, landmarks = args.landmarks, work = args.work,
    from = from, to = to, config = files, threads = args.threads, seed = args.seed, quiet = args.quiet,
    json = args.json, eval = not args.no_eval}
  if not summary then
    fail(err, err:find("stopped by signal") and 130 or status or 1)
  end
  if args.json then
    print(json.encode(summary))
  else
    print_summary(summary)
  end
end

return pipeline

-- mtcnn.train: the trainer of the MTCNN nets (docs/design.md, "Training"), the module behind
-- scripts/train_pnet.lua (train_rnet.lua and train_onet.lua use it the same way).
--
--   local train = require "mtcnn.train"
--   local config = require "mtcnn.config"
--   local summary = assert(train.run{
--     stage = "pnet", cfg = config.defaults("pnet"),    -- the section "train" is used
--     train = "work/pnet/train.rec",                    -- one merged file: shuffled pool;
--                                                       -- a merge folder: stratified batches
--     val = {"work/pnet/detection/val.rec", "work/pnet/landmark/val.rec"},
--     out = "work/pnet/model", seed = 1, threads = 2,
--   })
--   print(summary.final.loss, summary.final.accuracy)
--
-- What a run writes into out: config.lua (the settings used), log.jsonl (every log_every
-- steps: the means of the losses and the accuracy over those steps, the learning rate,
-- samples/s), epochs.jsonl (each epoch: the training means and the validation metrics of
-- mtcnn.train.validate), curves.png (mtcnn.train.log.curves; skipped with a note without
-- gnuplot), checkpoints/step-NNNNNNNNN.ckpt (mtcnn.train.checkpoint: at the end of each
-- epoch, kept, and every checkpoint_every steps, replaced by the next), and at the end
-- <stage>.mtn and manifest.json: a model folder for the stages trained so far
-- (train.write_model).
--
-- Resuming (resume = true) continues from the newest checkpoint to the same final weights as
-- an uninterrupted run: the weights, the optimiser's buffers and step count, the schedule
-- (a function of the step), the net's generators and the default one, the loader's position
-- (batch k is the same for a seed whatever happened before) and the running statistics of
-- the epoch and of the log window all come back. Bit for bit with the same thread count
-- (the kernels split their sums by thread).

local mtcnn = require "mtcnn"
local config = require "mtcnn.config"
local checkpoint = require "mtcnn.train.checkpoint"
local validate = require "mtcnn.train.validate"
local log = require "mtcnn.train.log"

local T, nn, models, optim = mtcnn.tensor, mtcnn.nn, mtcnn.models, mtcnn.optim
local record, loader, json, sys, progress = mtcnn.record, mtcnn.loader, mtcnn.json, mtcnn.sys,
  mtcnn.progress

local train = {}

train.STAGES = {"pnet", "rnet", "onet"}
train.checkpoint, train.validate, train.log = checkpoint, validate, log

-- Settings that do not change what a run computes: a resumed run may give other values.
local FREE_SETTINGS = {epochs = true, log_every = true, checkpoint_every = true,
                       loader_workers = true}

--- The model folder's decoding conventions for nets trained on our samples: box targets use
--- the side x2 - x1 + 1 (PNet's included), landmarks are normalised as (p - x1 + 0.5) / side
--- (runtime/data/mt_sample.c), which the detector decodes with landmark_offset 0.5.
train.CONVENTIONS = {landmark_offset = 0.5, pnet_width_plus_one = true}

train.LICENCE = "Trained by this project on WIDER FACE (Yang et al. 2016) and the CNN_FacePoint "
  .. "landmark set (Sun et al. 2013), whose terms allow research use only: so do these weights."

local function is_dir(path)
  local st = sys.stat(path)
  return st ~= nil and st.type == "directory"
end

local function exists(path)
  return sys.stat(path) ~= nil
end

-- ---- inputs ---------------------------------------------------------------------------------

local function describe_file(path, size)
  local f, err = record.open(path, {size = size})
  if not f then return nil, err end
  local d = {path = path, count = f.count, counts = f:counts()}
  f:close()
  return d
end

-- The training input: a file (a shuffled pool) or a merge folder (stratified batches, or its
-- class files as one pool when stratified is off).
local function training_input(path, size, stratified)
  if is_dir(path) then
    local files, classes = {}, {}
    for _, cls in ipairs(record.CLASSES) do
      local p = path:gsub("/$", "") .. "/" .. cls .. ".rec"
      if exists(p) then
        local d, err = describe_file(p, size)
        if not d then return nil, err end
        files[#files + 1], classes[cls] = d, p
      elseif stratified then
        return nil, ("%s: a merge folder for stratified batches needs %s.rec"):format(path, cls)
      end
    end
    if #files == 0 then return nil, path .. ": no record files (positive.rec, part.rec, ...) in this folder" end
    return {path = path, layout = stratified and "stratified" or "pool", files = files,
            classes = classes}
  end
  if not exists(path) then return nil, path .. ": no such file or folder" end
  if stratified then
    return nil, ("%s: train.stratified is on, which needs a merge folder (one file per class, "
      .. "merge_records.lua --layout per-class); give it, or --stratified false"):format(path)
  end
  local d, err = describe_file(path, size)
  if not d then return nil, err end
  return {path = path, layout = "pool", files = {d}}
end

local function same_counts(a, b)
  if #a.files ~= #b.files then return false end
  for i, f in ipairs(a.files) do
    local g = b.files[i]
    if f.count ~= g.count then return false end
    for k, n in pairs(f.counts) do
      if g.counts[k] ~= n then return false end
    end
  end
  return true
end

local function count_string(input)
  local parts = {}
  for _, f in ipairs(input.files) do parts[#parts + 1] = ("%s: %d"):format(f.path, f.count) end
  return table.concat(parts, ", ")
end

-- ---- the net's random sources ---------------------------------------------------------------

-- The distinct generators held by the net's modules (dropout), in module order.
local function net_generators(net)
  local out, seen = {}, {}
  local function walk(m)
    if m.generator and not seen[m.generator] then
      seen[m.generator] = true
      out[#out + 1] = m.generator
    end
    for _, c in ipairs(m:children()) do walk(c) end
  end
  walk(net)
  return out
end

-- ---- the optimiser --------------------------------------------------------------------------

local function optimiser_state(opt, kind)
  local tensors, names = {}, {}
  local lists = kind == "adam" and {{"m", opt.m}, {"v", opt.v}} or {{"momentum", opt.bufs}}
  for _, l in ipairs(lists) do
    for i, t in ipairs(l[2]) do
      tensors[#tensors + 1] = t
      names[#names + 1] = l[1] .. "." .. i
    end
  end
  return tensors, names
end

-- ---- git ------------------------------------------------------------------------------------

local function git_commit()
  local home = mtcnn.home or "."
  local q = "'" .. home:gsub("'", "'\\''") .. "'"
  local p = io.popen("git -C " .. q .. " rev-parse HEAD 2>/dev/null")
  if not p then return nil end
  local commit = (p:read("a") or ""):match("^(%x+)")
  p:close()
  if not commit then return nil end
  p = io.popen("git -C " .. q .. " status --porcelain --untracked-files=no 2>/dev/null")
  local dirty = p and (p:read("a") or ""):match("%S") ~= nil
  if p then p:close() end
  return commit, dirty
end

-- ---- the model folder -----------------------------------------------------------------------

local function copy_file(from, to)
  local f, err = io.open(from, "rb")
  if not f then return nil, err end
  local data = f:read("a")
  f:close()
  return sys.write_atomic(to, data)
end

--- train.write_model(out, stage, net, provenance [, {previous = model folder}]) -> true |
--- nil, message: out/<stage>.mtn and out/manifest.json naming it with the stages already in
--- out (their files present) and, with previous, the earlier stages of that folder (copied).
function train.write_model(out, stage, net, provenance, opts)
  opts = opts or {}
  local ok, err = models.save(net, out .. "/" .. stage .. ".mtn")
  if not ok then return nil, err end
  local nets, prov = {}, {}
  local function take(dir, manifest, copy)
    if type(manifest) ~= "table" or type(manifest.nets) ~= "table" then return true end
    for _, s in ipairs(train.STAGES) do
      local file = manifest.nets[s]
      if s ~= stage and type(file) == "string" and exists(dir .. "/" .. file) then
        if copy and dir ~= out then
          local copied, cerr = copy_file(dir .. "/" .. file, out .. "/" .. file)
          if not copied then return nil, cerr end
        end
        nets[s] = file
        prov[s] = type(manifest.provenance) == "table" and manifest.provenance[s] or manifest.provenance
      end
    end
    return true
  end
  if exists(out .. "/manifest.json") then take(out, json.read_file(out .. "/manifest.json"), false) end
  if opts.previous then
    local m, merr = json.read_file(opts.previous .. "/manifest.json")
    if not m then return nil, merr end
    local done, terr = take(opts.previous, m, true)
    if not done then return nil, terr end
  end
  nets[stage] = stage .. ".mtn"
  prov[stage] = provenance
  local order = {}
  for _, s in ipairs(train.STAGES) do if nets[s] then order[#order + 1] = s end end
  local preset = require("mtcnn.detector").PRESETS.original
  local manifest = json.ordered({
    name = "mtcnn-trained",
    format = 1,
    nets = json.ordered(nets, order),
    provenance = json.ordered(prov, order),
    licence = train.LICENCE,
    preprocessing = json.ordered({colour = "RGB", layout = "NCHW", mean = 127.5, scale = 0.0078125},
      {"colour", "layout", "mean", "scale"}),
    conventions = json.ordered({landmark_offset = train.CONVENTIONS.landmark_offset,
      pnet_width_plus_one = train.CONVENTIONS.pnet_width_plus_one},
      {"landmark_offset", "pnet_width_plus_one"}),
    detection = json.ordered({min_face = preset.min_face, factor = preset.factor,
      thresholds = preset.thresholds, nms = preset.nms, nms_onet = preset.nms_onet, resize = "area"},
      {"min_face", "factor", "thresholds", "nms", "nms_onet", "resize"}),
  }, {"name", "format", "nets", "provenance", "licence", "preprocessing", "conventions", "detection"})
  return sys.write_atomic(out .. "/manifest.json", json.encode(manifest, {indent = "  "}) .. "\n")
end

-- ---- the run --------------------------------------------------------------------------------

local function fresh_running()
  return {steps = 0, loss = 0, cls = 0, box = 0, landmarks = 0, l2 = 0, correct = 0, n_cls = 0,
          samples = 0, seconds = 0}
end

local function add_running(r, s, l2, batch, seconds)
  r.steps = r.steps + 1
  r.loss = r.loss + s.loss + l2
  r.cls, r.box, r.landmarks, r.l2 = r.cls + s.cls, r.box + s.box, r.landmarks + s.landmarks, r.l2 + l2
  r.correct, r.n_cls = r.correct + s.n_correct, r.n_cls + s.n_cls
  r.samples = r.samples + batch
  r.seconds = r.seconds + seconds
end

-- The means of a running window: {loss, cls, box, landmarks, l2, accuracy, samples_per_s}.
local function means(r)
  local n = math.max(r.steps, 1)
  return {loss = r.loss / n, cls = r.cls / n, box = r.box / n, landmarks = r.landmarks / n,
          l2 = r.l2 / n, accuracy = r.n_cls > 0 and r.correct / r.n_cls or nil,
          samples = r.samples, seconds = r.seconds,
          samples_per_s = r.seconds > 0 and r.samples / r.seconds or nil}
end

-- The message of a run whose loss stopped being a number at step.
local function diverged(ctx, step, loss)
  local t = ctx.cfg.train
  return ("the loss became %s at step %d (epoch %d, rate %g): the training diverged and stops. "
    .. "Start again (--overwrite) with a lower train.lr (%g now), a longer train.lr_warmup (%d "
    .. "steps now) or lower task weights (cls %g, box %g, landmark %g)"):format(
    loss ~= loss and "NaN" or tostring(loss), step, (step - 1) // ctx.steps_per_epoch + 1,
    ctx.schedule(step), t.lr, t.lr_warmup, t.cls_weight, t.box_weight, t.landmark_weight)
end

local function check_settings(t)
  if type(t.lr_epochs) ~= "table" then return nil, "train.lr_epochs must be a list of epochs" end
  for i, e in ipairs(t.lr_epochs) do
    if type(e) ~= "number" or e <= 0 or (i > 1 and e <= t.lr_epochs[i - 1]) then
      return nil, "train.lr_epochs must be increasing positive numbers, got "
        .. table.concat(t.lr_epochs, ",")
    end
  end
  if t.ohem <= 0 then return nil, "train.ohem must lie in (0, 1]" end
  return true
end

-- Differences between two configs in the training settings that change what a run computes
-- (among keys, a set of names; all when nil).
local function config_differences(stage, a, b, keys)
  local diffs = {}
  for _, sec in ipairs(config.schema(stage).sections) do
    if sec.name == "train" then
      for _, e in ipairs(sec.entries) do
        local k = e[1]
        local va, vb = a.train[k], b.train[k]
        if keys and not keys[k] then vb = va end
        local same = va == vb
        if type(va) == "table" and type(vb) == "table" then
          same = table.concat(va, ",") == table.concat(vb, ",")
        end
        if not same and not FREE_SETTINGS[k] then
          diffs[#diffs + 1] = ("train.%s (checkpoint %s, given %s)"):format(k,
            type(va) == "table" and table.concat(va, ",") or tostring(va),
            type(vb) == "table" and table.concat(vb, ",") or tostring(vb))
        end
      end
    end
  end
  return diffs
end

local function note_to(opts)
  return opts.note or function(msg) io.stderr:write(msg, "\n") end
end

-- Prepares a run: settings, inputs, resume state. Returns ctx | nil, message.
local function prepare(opts)
  local stage = opts.stage
  local size = record.SIZES[stage]
  if not size then error("train.run: unknown stage " .. tostring(stage), 3) end
  local device = opts.device or "cpu"
  if device ~= "cpu" and device ~= "cuda" then
    return nil, ("unknown device %s (cpu or cuda)"):format(tostring(device))
  end
  if device == "cuda" and not mtcnn.cuda.available() then
    return nil, "--device cuda: " .. tostring(select(2, mtcnn.cuda.device_info()))
  end
  if type(opts.out) ~= "string" then return nil, "an output folder (out) is required" end
  local out = opts.out:gsub("(.)/$", "%1")
  local ckdir = out .. "/checkpoints"
  local ctx = {stage = stage, size = size, out = out, ckdir = ckdir, notes = {}, device = device}
  local note = note_to(opts)
  ctx.note = function(msg)
    ctx.notes[#ctx.notes + 1] = msg
    note(msg)
  end

  local previous = #checkpoint.list(ckdir) > 0 or exists(out .. "/log.jsonl")
  if opts.resume then
    local state, tensors, path, skipped = checkpoint.latest(ckdir)
    if not state then return nil, tensors end
    for _, s in ipairs(skipped) do ctx.note("note: skipped a damaged checkpoint: " .. s) end
    if state.stage ~= stage then
      return nil, ("%s: a %s checkpoint, not %s"):format(path, tostring(state.stage), stage)
    end
    ctx.state, ctx.tensors, ctx.resumed_from = state, tensors, path
  elseif previous and not opts.overwrite then
    return nil, ("%s holds a training run already (checkpoints, logs): resume it with --resume, "
      .. "or start again with --overwrite"):format(out)
  end

  -- settings: the checkpoint's unless others are given; those must agree
  local cfg = opts.cfg
  local state = ctx.state
  if state then
    local saved = state.config
    -- a setting added since the run began takes its default (what the run did)
    for k, v in pairs(config.defaults(stage).train) do
      if saved.train[k] == nil then saved.train[k] = v end
    end
    if cfg then
      local diffs = config_differences(stage, saved, cfg, opts.given)
      if #diffs > 0 then
        return nil, "--resume continues a run with its own settings; these differ: "
          .. table.concat(diffs, "; ")
      end
      for k in pairs(FREE_SETTINGS) do
        if not opts.given or opts.given[k] then saved.train[k] = cfg.train[k] end
      end
    end
    cfg = saved
  end
  cfg = cfg or config.defaults(stage)
  local ok, err = check_settings(cfg.train)
  if not ok then return nil, err end
  ctx.cfg = cfg

  local seed = opts.seed
  if state then
    if seed and seed ~= state.seed then
      return nil, ("--resume: the run used --seed %d, not %d"):format(state.seed, seed)
    end
    seed = state.seed
  end
  ctx.seed = seed or 1

  -- the code the run began with goes into the provenance, not the code it ends with; a resumed
  -- session at other code (another commit, or local changes) is listed after it
  local commit, dirty = git_commit()
  local code = state and state.code
  if type(code) == "table" then
    code = {commit = code.commit, dirty = code.dirty, resumed = code.resumed or {}}
    local last = code.resumed[#code.resumed] or code
    if commit and (commit ~= last.commit or dirty ~= last.dirty) then
      code.resumed[#code.resumed + 1] = {commit = commit, dirty = dirty, step = state.step}
    end
  else
    -- a fresh run, or a checkpoint written before the code was kept: the code of now
    code = {commit = commit, dirty = dirty, resumed = {}}
  end
  ctx.code = code

  -- the earlier stages that join the model folder at the end: checked now, not after training
  local prev = opts.previous or (state and state.previous)
  if prev then
    local m, merr = json.read_file(prev .. "/manifest.json")
    if not m then return nil, ("previous model: %s"):format(merr) end
    if type(m.nets) ~= "table" then return nil, ("previous model %s: its manifest names no nets"):format(prev) end
    for _, s in ipairs(train.STAGES) do
      if s == stage then break end
      if type(m.nets[s]) == "string" and not exists(prev .. "/" .. m.nets[s]) then
        return nil, ("previous model %s: no %s"):format(prev, m.nets[s])
      end
    end
    ctx.previous = prev
  end

  -- inputs
  local t = cfg.train
  local train_path = opts.train or (state and state.inputs.train.path)
  if not train_path then return nil, "the training data (--train FILE|DIR) are required" end
  local input
  input, err = training_input(train_path, size, t.stratified)
  if not input then return nil, err end
  local val = opts.val
  if type(val) == "string" then val = {val} end
  if (not val or #val == 0) and state then
    val = {}
    for i, f in ipairs(state.inputs.val.files) do val[i] = f.path end
  end
  if not val or #val == 0 then return nil, "validation records (--val FILE[,FILE...]) are required" end
  local vfiles = {}
  for i, p in ipairs(val) do
    local d, verr = describe_file(p, size)
    if not d then return nil, verr end
    vfiles[i] = d
  end
  ctx.inputs = {train = input, val = {files = vfiles}}
  if state then
    if not same_counts(input, state.inputs.train) then
      return nil, ("--resume: the training data differ from the run's (%s; the run had %s)")
        :format(count_string(input), count_string(state.inputs.train))
    end
    if not same_counts(ctx.inputs.val, state.inputs.val) then
      return nil, ("--resume: the validation data differ from the run's (%s; the run had %s)")
        :format(count_string(ctx.inputs.val), count_string(state.inputs.val))
    end
  end

  -- a resumed run keeps its thread count unless told otherwise (same count, same bits)
  local threads = opts.threads or (state and state.threads)
  if threads then sys.set_threads(threads) end
  ctx.threads = sys.threads()
  if state and state.threads ~= ctx.threads then
    ctx.note(("note: the run used %d threads, this one %d: the result can differ in the last bits "
      .. "from an uninterrupted run"):format(state.threads, ctx.threads))
  end
  return ctx
end

-- Copies into net the weights of a trained net of the same stage (train.init): a net file, or
-- the net of this stage of a model folder or of a bundled model named alone ("ours"). Every
-- parameter must be there with the same shape (a net without a landmark head cannot start one
-- with it). Returns the file and its checksum.
local function load_init(net, stage, path)
  local file = path
  -- a model folder, or a bundled model's name ("original", "ours"), gives its net of the stage
  if is_dir(path) or (not exists(path) and path:match("^[%w_%-]+$")) then
    local err
    file, err = require("mtcnn.detector").stage_file(path, stage)
    if not file then return nil, "train.init: " .. err end
  end
  local src, err = models.load(file)
  if not src then return nil, "train.init: " .. err end
  if src.arch ~= stage then
    return nil, ("train.init: %s holds a %s, not a %s"):format(file, tostring(src.arch), stage)
  end
  local from = {}
  for _, e in ipairs(src:named_parameters()) do from[e.name] = e.tensor end
  for _, e in ipairs(net:named_parameters()) do
    local t = from[e.name]
    if not t then
      local why = e.name:find("^landmarks") and ": it has no landmark head (train with landmarks = false)"
        or ""
      return nil, ("train.init: %s has no parameter %s%s"):format(file, e.name, why)
    end
    local a, b = t:size(), e.tensor:size()
    if table.concat(a, "x") ~= table.concat(b, "x") then
      return nil, ("train.init: %s: parameter %s has shape %s, the net to train %s"):format(file,
        e.name, table.concat(a, "x"), table.concat(b, "x"))
    end
    e.tensor:copy_(t)
  end
  local f = io.open(file, "rb")
  local data = f and f:read("a")
  if f then f:close() end
  return file, data and ("crc32c:%08x"):format(sys.crc32c(data)) or nil
end

-- Builds the net, loss, optimiser and loader; restores a checkpoint into them.
local function build(ctx)
  local stage, t = ctx.stage, ctx.cfg.train
  local net_opts = {landmarks = t.landmarks, seed = ctx.seed}
  if stage == "onet" then net_opts.dropout = t.dropout end
  local net = models[stage](net_opts)
  net:training()
  -- a resumed run's weights come from its checkpoint
  if ctx.state then
    ctx.init = ctx.state.init
  elseif t.init ~= "" then
    local file, sum = load_init(net, stage, t.init)
    if not file then return nil, sum end
    ctx.init = {path = file, checksum = sum}
  end
  local okc, crit = pcall(nn.MTCNNLoss, {cls = t.cls_weight, box = t.box_weight,
    landmarks = t.landmark_weight, ohem = t.ohem, weight_decay = t.weight_decay})
  if not okc then return nil, tostring(crit) end
  local params, grads = net:parameters()
  local opt
  if t.optimizer == "adam" then
    opt = optim.Adam(params, grads, {lr = t.lr})
  else
    opt = optim.SGD(params, grads, {lr = t.lr, momentum = t.momentum})
  end
  if ctx.device ~= "cpu" then
    -- parameters move in place, so the optimiser's lists follow; its state moves with it
    net:to(ctx.device)
    opt:to(ctx.device)
  end
  ctx.net, ctx.crit, ctx.opt = net, crit, opt
  ctx.step_fn = optim.train_step(net, crit, opt)

  local state = ctx.state
  local start = state and state.step + 1 or 1
  local input = ctx.inputs.train
  local lopts = {net = stage, batch = t.batch, seed = ctx.seed, workers = t.loader_workers,
                 start_step = start, mirror = t.mirror, mirror_part = t.mirror_part,
                 jitter = t.color_jitter}
  if input.layout == "stratified" then
    lopts.classes = input.classes
  else
    lopts.files = {}
    for i, f in ipairs(input.files) do lopts.files[i] = f.path end
  end
  local ld, err = loader.new(lopts)
  if not ld then return nil, err end
  ctx.loader = ld
  ctx.steps_per_epoch = ld.steps_per_epoch
  ctx.total_steps = t.epochs * ld.steps_per_epoch
  local bounds = {}
  for i, e in ipairs(t.lr_epochs) do bounds[i] = math.floor(e * ld.steps_per_epoch + 0.5) end
  ctx.schedule = optim.schedule.piecewise{base = t.lr, boundaries = bounds, factor = t.lr_factor,
                                          warmup = t.lr_warmup}

  ctx.validator, err = validate.new{stage = stage, files = (function()
      local l = {}
      for i, f in ipairs(ctx.inputs.val.files) do l[i] = f.path end
      return l
    end)(), weights = {cls = t.cls_weight, box = t.box_weight, landmarks = t.landmark_weight},
    threshold = t.threshold, batch = t.batch}
  if not ctx.validator then
    ld:close()
    return nil, err
  end

  ctx.step = start - 1
  ctx.running, ctx.window = fresh_running(), fresh_running()
  ctx.history = {}
  ctx.elapsed = {train = 0, validation = 0, total = 0}
  ctx.skipped = 0
  if state then
    if state.steps_per_epoch ~= ld.steps_per_epoch then
      return nil, ("--resume: %d steps per epoch now, %d in the run"):format(ld.steps_per_epoch,
        state.steps_per_epoch)
    end
    if state.step > ctx.total_steps then
      return nil, ("--resume: the run is at step %d, beyond the %d steps of %d epochs"):format(
        state.step, ctx.total_steps, t.epochs)
    end
    local entries = net:named_parameters()
    local tensors = ctx.tensors
    local ostate = optimiser_state(opt, t.optimizer)
    if #tensors ~= #entries + #ostate then
      return nil, ("%s: %d tensors, expected %d"):format(ctx.resumed_from, #tensors, #entries + #ostate)
    end
    for i, e in ipairs(entries) do
      if state.params[i] ~= e.name then
        return nil, ("%s: parameter %d is %s, expected %s"):format(ctx.resumed_from, i,
          tostring(state.params[i]), e.name)
      end
      e.tensor:copy_(tensors[i])
    end
    for i, b in ipairs(ostate) do b:copy_(tensors[#entries + i]) end
    opt.step_count = state.optimizer.step_count
    T.set_rng_state(state.rng.default)
    local gens = net_generators(net)
    for i, g in ipairs(gens) do g:set_state(state.rng.net[i]) end
    for k, v in pairs(state.running) do ctx.running[k] = v end
    for k, v in pairs(state.window) do ctx.window[k] = v end
    ctx.history = state.history
    for k, v in pairs(state.elapsed) do ctx.elapsed[k] = v end
    ctx.skipped = state.skipped or 0
  end
  return true
end

-- The batch on the run's device: on cuda, copies into device tensors kept from step to step
-- (one upload per field; the loader's host batch is free for the next one).
local function on_device(ctx, b)
  if ctx.device == "cpu" then return b.images, b.target end
  local up = ctx.uploads or {target = {}}
  ctx.uploads = up
  local function put(slot, holder, t)
    local d = holder[slot]
    if not d or d:numel() ~= t:numel() or d:dim() ~= t:dim() then
      d = T.empty(t:size()):to(ctx.device)
      holder[slot] = d
    end
    return d:copy_(t)
  end
  local target = {}
  for k, v in pairs(b.target) do target[k] = put(k, up.target, v) end
  return put("images", up, b.images), target
end

local function save_checkpoint(ctx, epoch_end)
  -- a checkpoint vouches for the log lines up to its step (a resumed run keeps those and
  -- writes the later ones again): they must all be written and on the disk first
  for _, lg in ipairs({ctx.steps_log, ctx.epochs_log}) do
    local ok, err = lg:sync()
    if not ok then return nil, err end
  end
  local net, opt, t = ctx.net, ctx.opt, ctx.cfg.train
  local names, tensors = {}, {}
  for i, e in ipairs(net:named_parameters()) do
    names[i], tensors[i] = e.name, e.tensor
  end
  local ostate = optimiser_state(opt, t.optimizer)
  for _, b in ipairs(ostate) do tensors[#tensors + 1] = b end
  local gens = {}
  for i, g in ipairs(net_generators(net)) do gens[i] = g:state() end
  local cfg = {}
  for k, v in pairs(ctx.cfg) do cfg[k] = v end
  local state = {
    stage = ctx.stage, step = ctx.step, epoch_end = epoch_end,
    steps_per_epoch = ctx.steps_per_epoch, total_steps = ctx.total_steps,
    params = names, net_options = json.object(net.options),
    optimizer = {kind = t.optimizer, step_count = opt.step_count},
    rng = {default = T.get_rng_state(), net = gens},
    loader = {start_step = ctx.step + 1, seed = ctx.seed},
    running = ctx.running, window = ctx.window, history = ctx.history,
    config = cfg, seed = ctx.seed, threads = ctx.threads, inputs = ctx.inputs,
    elapsed = ctx.elapsed, skipped = ctx.skipped, previous = ctx.previous,
    init = ctx.init, code = ctx.code,
  }
  local path, err = checkpoint.save(ctx.ckdir, state, tensors)
  if not path then return nil, err end
  -- keep every epoch's checkpoint and the newest one
  local spe, step = ctx.steps_per_epoch, ctx.step
  checkpoint.prune(ctx.ckdir, function(s) return s % spe == 0 or s >= step end)
  return path
end

-- The picture is redrawn at the end of an epoch when a minute has passed since the last one
-- (gnuplot takes a good part of a second) and at the end of the run.
local CURVES_EVERY = 60

local function draw_curves(ctx, final)
  if not ctx.curves then return end
  local now = sys.clock()
  if not final and ctx.curves_at and now - ctx.curves_at < CURVES_EVERY then return end
  ctx.curves_at = now
  local ok, err, why = log.curves(ctx.out .. "/curves.png", ctx.steps_log.entries,
    ctx.epochs_log.entries, {title = ("%s training"):format(ctx.stage)})
  if not ok and not ctx.curves_noted then
    ctx.curves_noted = true
    ctx.note("note: no curves.png: " .. tostring(err))
  end
  -- gnuplot is optional; a picture it could not write is an output lost (the run's status 3)
  if final and not ok and why ~= "missing" then ctx.curves_error = "curves.png: " .. tostring(err) end
end

local function fmt(v, f)
  if type(v) ~= "number" or v ~= v then return "n/a" end
  return (f or "%.4f"):format(v)
end

local function end_of_epoch(ctx, bar)
  local t0 = sys.clock()
  local epoch = ctx.step // ctx.steps_per_epoch
  local val = ctx.validator:run(ctx.net)
  local tr = means(ctx.running)
  local entry = {epoch = epoch, step = ctx.step, lr = ctx.schedule(ctx.step), train = tr, val = val}
  ctx.running = fresh_running()
  ctx.elapsed.validation = ctx.elapsed.validation + (sys.clock() - t0)
  ctx.history[#ctx.history + 1] = entry
  local logged, lerr = ctx.epochs_log:write(entry)
  if not logged then return nil, lerr, "output" end
  local ok, err = save_checkpoint(ctx, true)
  if not ok then return nil, err, "output" end
  draw_curves(ctx)
  local line = ("%s epoch %d/%d: train loss %s acc %s | val loss %s acc %s (pos %s, neg %s) "
    .. "recall@%g %s box IoU %s landmarks %s | %s samples/s"):format(ctx.stage, epoch,
    ctx.cfg.train.epochs, fmt(tr.loss), fmt(tr.accuracy), fmt(val.loss), fmt(val.accuracy),
    fmt(val.accuracy_positive), fmt(val.accuracy_negative), val.threshold, fmt(val.recall),
    fmt(val.box_iou), fmt(val.landmark_error), fmt(tr.samples_per_s, "%.0f"))
  if bar then bar:print(line) end
  return true
end

local function finish(ctx, t_start)
  local t = ctx.cfg.train
  local last = ctx.history[#ctx.history]
  local inputs = ctx.inputs
  local code = ctx.code
  local provenance = {
    trained_by = "mtcnn " .. tostring(mtcnn.version) .. " scripts/train_" .. ctx.stage .. ".lua",
    date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    commit = code.commit, commit_dirty = code.dirty,
    resumed_at = #code.resumed > 0 and code.resumed or nil,
    seed = ctx.seed, threads = ctx.threads,
    data = {train = inputs.train, val = inputs.val},
    init = ctx.init,
    config = t,
    steps = ctx.step, epochs = t.epochs, steps_per_epoch = ctx.steps_per_epoch,
    validation = last and last.val or nil,
    seconds = ctx.elapsed,
  }
  local ok, err = train.write_model(ctx.out, ctx.stage, ctx.net, provenance, {previous = ctx.previous})
  if not ok then return nil, err end
  draw_curves(ctx, true)
  return {
    stage = ctx.stage, out = ctx.out, model = ctx.out .. "/" .. ctx.stage .. ".mtn",
    steps = ctx.step, epochs = t.epochs, steps_per_epoch = ctx.steps_per_epoch, batch = t.batch,
    seed = ctx.seed, threads = ctx.threads, device = ctx.device,
    samples_per_s = ctx.elapsed.train > 0 and ctx.step * t.batch / ctx.elapsed.train or nil,
    seconds = ctx.elapsed, session_seconds = sys.clock() - t_start,
    final = last and last.val or nil, final_train = last and last.train or nil,
    history = ctx.history, resumed_from = ctx.resumed_from, skipped_batches = ctx.skipped,
    notes = ctx.notes, curves_error = ctx.curves_error,
  }
end

--- train.run(opts) -> summary | nil, message [, "output": an output could not be written].
--- opts: stage ("pnet" | "rnet" | "onet"), cfg (mtcnn.config settings of the stage; default
--- its defaults; with resume, the checkpoint's when absent, and given ones must agree with them but for epochs and the logging,
--- checkpoint and loader settings), given (with resume: the set of training settings cfg
--- gives on purpose; the others are the run's), train (a record file or a merge folder), val
--- (record files), out (folder),
--- seed (1), threads (kernel threads; default: as set), device ("cpu"), resume, overwrite
--- (start again in a folder that holds a run), previous (a model folder whose earlier stages
--- join this one's, checked before training; a resumed run keeps the run's), progress (true: a bar on stderr), curves (true: draw curves.png),
--- note (function(message) for notes; default: stderr), on_step (function(ctx) after each
--- step, for tests).
--- The summary: {stage, out, model, steps, epochs, steps_per_epoch, batch, seed, threads,
--- samples_per_s (training steps only: loader, step, logging), step_ms_median and
--- samples_per_s_median (the same from the median step of this session), seconds = {train,
--- validation, total}, final (the last validation metrics), final_train, history,
--- resumed_from, notes, loader = {taken, waited, wait_seconds} (this session's batches, those
--- the step waited for or finished itself, and the time that took)}.
function train.run(opts)
  local t_start = sys.clock()
  local ctx, err = prepare(opts)
  if not ctx then return nil, err end
  ctx.curves = opts.curves ~= false
  local ok
  ok, err = sys.mkdir(ctx.ckdir)
  if not ok then return nil, "cannot create the checkpoint folder: " .. tostring(err), "output" end
  if opts.overwrite and not opts.resume then
    checkpoint.prune(ctx.ckdir, function() return false end)
  end
  ok, err = build(ctx)
  if not ok then return nil, err end
  local ld <close> = ctx.loader
  local val <close> = ctx.validator
  local t = ctx.cfg.train
  local resumed_at = ctx.state and ctx.state.step or nil
  ok, err = config.write(ctx.cfg, ctx.out .. "/config.lua", ctx.stage,
    ("settings of a %s training run (mtcnn scripts/train_%s.lua --config this file)"):format(
      ctx.stage, ctx.stage))
  if not ok then return nil, err, "output" end
  local steps_log <close>, serr = log.open(ctx.out .. "/log.jsonl", {keep_until = resumed_at})
  if not steps_log then return nil, serr, "output" end
  local epochs_log <close>, eerr = log.open(ctx.out .. "/epochs.jsonl", {keep_until = resumed_at})
  if not epochs_log then return nil, eerr, "output" end
  ctx.steps_log, ctx.epochs_log = steps_log, epochs_log
  ctx.state, ctx.tensors = nil, nil
  if not opts.overwrite and not resumed_at then os.remove(ctx.out .. "/curves.png") end

  local spe, total, batch = ctx.steps_per_epoch, ctx.total_steps, t.batch
  local bar
  if opts.progress ~= false and ctx.step < total then
    bar = progress.new{total = (total - ctx.step) * batch, label = ctx.stage, unit = "samples"}
  end
  local session_start = sys.clock()
  local step_times = {} -- this session's, for the median
  local done0 = ctx.step
  local clock = sys.clock
  while ctx.step < total do
    local t0 = clock()
    local b, berr = ld:next()
    ctx.step = ctx.step + 1
    local step = ctx.step
    if b then
      local x, target = on_device(ctx, b)
      local _, l2 = ctx.step_fn(x, target, ctx.schedule(step))
      local loss = ctx.crit.stats.loss + l2
      if loss ~= loss or math.abs(loss) == math.huge then
        -- the weights are lost from here on: stop before a checkpoint or the net keeps them
        if bar then bar:finish() end
        return nil, diverged(ctx, step, loss)
      end
      local dt = clock() - t0
      add_running(ctx.running, ctx.crit.stats, l2, batch, dt)
      add_running(ctx.window, ctx.crit.stats, l2, batch, dt)
    else
      ctx.skipped = ctx.skipped + 1
      ctx.note(("note: step %d skipped: %s"):format(step, tostring(berr)))
    end
    if step % t.log_every == 0 then
      local m = means(ctx.window)
      -- a line that cannot be written ends the run: a later checkpoint would leave a gap
      -- in the log of its resumed run
      local logged, lerr = steps_log:write{step = step, epoch = (step - 1) // spe + 1,
        epoch_f = step / spe, lr = ctx.schedule(step), loss = m.loss, cls = m.cls, box = m.box,
        landmarks = m.landmarks, l2 = m.l2, accuracy = m.accuracy, steps = ctx.window.steps,
        samples_per_s = m.samples_per_s}
      if not logged then return nil, lerr, "output" end
      ctx.window = fresh_running()
    end
    if bar then
      local r = ctx.running
      bar:update((step - done0) * batch, ("epoch %d/%d step %d/%d loss %s acc %s"):format(
        (step - 1) // spe + 1, t.epochs, step, total, fmt(r.loss / math.max(r.steps, 1), "%.3f"),
        fmt(r.n_cls > 0 and r.correct / r.n_cls or nil, "%.3f")))
    end
    local took = clock() - t0
    ctx.elapsed.train = ctx.elapsed.train + took
    step_times[#step_times + 1] = took
    if opts.on_step then opts.on_step(ctx) end
    if step % spe == 0 then
      local kind
      ok, err, kind = end_of_epoch(ctx, bar)
      if not ok then return nil, err, kind end
    elseif t.checkpoint_every > 0 and step % t.checkpoint_every == 0 then
      ok, err = save_checkpoint(ctx, false)
      if not ok then return nil, err, "output" end
    end
    ctx.elapsed.total = ctx.elapsed.total + (clock() - t0)
  end
  if bar then bar:finish() end
  local lok, lerr = steps_log:close()
  if lok then lok, lerr = epochs_log:close() end
  if not lok then return nil, lerr, "output" end
  local summary
  summary, err = finish(ctx, t_start)
  if not summary then return nil, err, "output" end
  summary.session_samples_per_s = (ctx.step - done0) * batch / math.max(clock() - session_start, 1e-9)
  -- this session's batches, how many the step had to wait for (or finish itself) and for how long
  summary.loader = ld:wait_stats()
  -- the median step (loader, step and logging) is what bench.lua train reports for the step
  -- alone: robust to the moments another process takes the cores
  if #step_times > 0 then
    table.sort(step_times)
    summary.step_ms_median = step_times[(#step_times + 1) // 2] * 1e3
    summary.samples_per_s_median = batch / step_times[(#step_times + 1) // 2]
  end
  return summary
end

return train

-- mtcnn.hard: hard-example mining, the engine of scripts/gen_hard_examples.lua
-- (docs/design.md, 'Hard examples').
--
--   local hard = require "mtcnn.hard"
--   local cfg = require("mtcnn.config").defaults("rnet")          -- sections hard, detection
--   local entries = assert(data.read_wider(gt_file, {images = root}))
--   local summary = assert(hard.run{stage = "rnet", model = "work/pnet/model", cfg = cfg,
--                                   entries = entries, out = "work/rnet/hard", seed = 1})
--   print(summary.recall, summary.samples.train.negative)
--
-- The trained earlier stages (PNet for RNet's samples, PNet + RNet for ONet's) run over the
-- images with the settings of the stage's section "hard"; each window they keep is made
-- square, rounded, cut and labelled by its IoU with all the faces of its image
-- (mtcnn.sample.windows, in C), and written as cfg.detection.size records. It is a
-- generation of mtcnn.gen (kind "hard"): chunks of images, the same validation split as the
-- PNet samples of the same seed (a hash of each image's name), state.json and record
-- rollback for an exact resume, summary.json. Per chunk the images are decoded on all
-- threads (image.load_many), the detector runs over them at once (detector:detect_batch:
-- PNet per image with its pyramid levels on all threads, RNet over the crops of the whole
-- chunk in shared batches), and the cutting and labelling run on all threads
-- (core.gen.start) with the decoded images; then the images are freed, so the memory held is
-- one chunk's, whatever the number of images. The summary adds the recall of the annotated
-- faces (side >= 20) by the stages that ran, as scripts/eval_stage.lua measures it.
--
-- Landmark windows (landmarks = true; docs/design.md, 'Landmark windows'): the same run over a
-- 5-point landmark list, with the detector's thresholds of the section "landmark_windows";
-- each window that frames a face (IoU >= lmk_window_iou, its five points inside) becomes a
-- landmark sample of it, at most lmk_window_max per face (mtcnn.sample.landmark_windows, kind
-- "landmark_windows"). ONet then learns landmarks on faces framed as RNet frames them, not
-- only on crops shifted around the list's boxes, whose framing differs.

local config, detector, gen = require "mtcnn.config", require "mtcnn.detector", require "mtcnn.gen"
local core, image, json, sys = require "mtcnn.core", require "mtcnn.image", require "mtcnn.json", require "mtcnn.sys"
local eval_stage = require "mtcnn.eval.stage"

local hard = {}

-- The nets a stage's samples are mined with, in cascade order.
hard.STAGES = {rnet = {"pnet"}, onet = {"pnet", "rnet"}}

-- The tally of a run's summary: what became of the windows, and the recall of the faces.
hard.TALLY = {"windows", "small", "outside", "between", "neg_over", "face_small", "faces_counted",
              "faces_recalled"}
hard.LANDMARK_TALLY = {"windows", "small", "outside", "far", "points", "over", "faces_counted",
                       "faces_recalled"}

--- hard.presets() -> {name = {key = value}}: the named starting points of the section
--- (lua/mtcnn/config/pnet.lua: "seed", the defaults, and "original").
function hard.presets()
  for _, sec in ipairs(config.schema("pnet").sections) do
    if sec.name == "hard" then return sec.presets end
  end
end

--- hard.base(stage, preset) -> config.defaults(stage) with the preset's values | nil, message.
function hard.base(stage, preset)
  local cfg = config.defaults(stage)
  local values = hard.presets()[preset or "seed"]
  if not values then return nil, ("unknown preset '%s' (seed, original)"):format(tostring(preset)) end
  for k, v in pairs(values) do cfg.hard[k] = v end
  return cfg
end

--- hard.face_min_side(h) -> h.hard_face_min_side where it drops windows that hard_min_side
--- keeps | nil: the one rule by which the miner's parameters, its resume identity and
--- pipeline.lua's step signatures leave the setting out (added later: older runs resume).
function hard.face_min_side(h)
  if h.hard_face_min_side > h.hard_min_side then return h.hard_face_min_side end
  return nil
end

--- hard.params(cfg [, landmarks]) -> the options of mtcnn.sample.windows (landmarks:
--- sample.landmark_windows) for a config.
function hard.params(cfg, landmarks)
  local h = cfg.hard
  if landmarks then
    local w = cfg.landmark_windows
    return {size = cfg.detection.size, method = h.hard_method, win_min_side = h.hard_min_side,
            win_lmk_iou = w.lmk_window_iou, win_lmk_max = w.lmk_window_max}
  end
  local p = {size = cfg.detection.size, method = h.hard_method, neg_iou = h.hard_neg_iou,
             part_iou = h.hard_part_iou, pos_iou = h.hard_pos_iou, win_min_side = h.hard_min_side,
             win_neg_max = h.hard_neg_max}
  -- (set only when it drops something, so that a run from before it resumes)
  p.win_face_min_side = hard.face_min_side(h)
  return p
end

--- hard.detector(stage, model, cfg [, landmarks]) -> the detector that mines stage's samples
--- (the earlier stages of model, the section's settings; landmarks: the thresholds of the
--- section landmark_windows) | nil, message.
function hard.detector(stage, model, cfg, landmarks)
  local h = cfg.hard
  local t = {h.hard_pnet_threshold, h.hard_rnet_threshold}
  if landmarks then
    t = {cfg.landmark_windows.lmk_window_pnet_threshold, cfg.landmark_windows.lmk_window_rnet_threshold}
  end
  local ok, det, err = pcall(detector.new, {
    model = model, stages = #hard.STAGES[stage], min_face = h.hard_min_face, factor = h.hard_factor,
    thresholds = {t[1], t[2], detector.PRESETS.original.thresholds[3]},
    nms = {h.hard_nms_level, h.hard_nms_image, h.hard_nms_rnet, detector.PRESETS.original.nms[4]},
    resize = h.hard_resize})
  if not ok then return nil, (tostring(det):gsub("^.-detector: ", "")) end
  return det, err
end

-- A 64-bit FNV-1a hash of the bytes of a file, 8 at a time, as hex (what a resume checks the
-- nets by: their files, wherever the folder has moved).
local function file_hash(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data = f:read("a")
  f:close()
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  local n = #data - #data % 8
  for i = 1, n, 8 do
    h = (h ~ string.unpack("<i8", data, i)) * 1099511628211
  end
  for i = n + 1, #data do h = (h ~ data:byte(i)) * 1099511628211 end
  return ("%016x:%d"):format(h, #data)
end

--- hard.settings(stage, det, cfg [, landmarks]) -> what a resumed run must share besides the
--- cutting parameters: the sections and a hash of each net file used, with the model's
--- conventions.
function hard.settings(stage, det, cfg, landmarks)
  local s = {stage = stage, conventions = det.manifest and det.manifest.conventions or false}
  for k, v in pairs(cfg.hard) do s[k] = v end
  -- added later: left out while it drops nothing, so that older runs resume
  s.hard_face_min_side = hard.face_min_side(cfg.hard)
  if landmarks then
    for k, v in pairs(cfg.landmark_windows) do s[k] = v end
  end
  for _, arch in ipairs(hard.STAGES[stage]) do
    s[arch] = assert(file_hash(det.model .. "/" .. det.manifest.nets[arch]))
  end
  return s
end

-- A chunk of gen.run: decodes the items' images, runs the detector over all of them, and
-- starts the cutting (core.gen.start with the decoded images). Its wait(train, val,
-- fraction) writes the samples, frees the images and returns the results in the items'
-- order, each ok one with a tally of its windows and the recall of its faces.
local function start_chunk(det, items, copts)
  local paths = {}
  for i, it in ipairs(items) do paths[i] = it.path end
  local ims, errors = image.load_many(paths)
  local decoded, skipped, list = {}, {}, {}
  for i, it in ipairs(items) do
    if ims[i] then
      it.image = ims[i]
      decoded[#decoded + 1] = it
      list[#list + 1] = ims[i]
    else
      skipped[i] = {status = sys.stat(it.path) and "bad" or "missing", message = errors[i]}
    end
  end
  local function free_images() for _, im in ipairs(list) do im:free() end end
  local ok, found = pcall(det.detect_batch, det, list)
  if not ok then
    free_images()
    error(found, 0)
  end
  local recall = {}
  for k, it in ipairs(decoded) do
    local windows = {}
    for j, f in ipairs(found[k]) do windows[j] = f.box end
    it.windows = windows
    local recalled, counted = eval_stage.recall(it.faces or {it.box}, found[k])
    recall[k] = {faces_counted = counted, faces_recalled = recalled}
  end
  local started, job = pcall(core.gen.start, decoded, copts)
  if not started then
    free_images()
    error(job, 0)
  end
  return {
    wait = function(_, train, val, fraction)
      -- the images stay until the job has finished with them, whatever happens
      local done, results, err = pcall(job.wait, job, train, val, fraction)
      if not done then job:wait() end
      free_images()
      if not done then error(results, 0) end
      if not train or not results then return results, err end
      local out, k = {}, 0
      for i = 1, #items do
        if skipped[i] then
          out[i] = skipped[i]
        else
          k = k + 1
          local r = results[k]
          r.tally = recall[k]
          for name, v in pairs(r.windows or {}) do r.tally[name] = v end
          r.windows = nil
          out[i] = r
        end
      end
      return out
    end,
  }
end

--- hard.run(opts) -> summary | nil, message [, "output"]. opts: stage "rnet" | "onet"; model (a model
--- folder holding the earlier stages) or det (a detector of hard.detector); cfg (the stage's
--- config: sections hard and detection, and landmark_windows); landmarks (landmark windows of
--- a landmark list's entries instead of hard examples); entries (as mtcnn.data's readers give
--- them: read_wider, or read_landmarks with landmarks); out;
--- and gen.run's seed, resume, force, threads, chunk (images per chunk, default 2 per
--- thread), commit_seconds, limit, source, listed, missing, missing_examples, progress, note.
--- The summary is gen.run's (kind "hard", or "landmark_windows") with tally = {windows, small,
--- outside, between, neg_over (landmarks: far, points, over), faces_counted, faces_recalled}
--- over the images done, recall, and detection = the detector's settings.
function hard.run(opts)
  local stage = opts.stage
  if not hard.STAGES[stage] then return nil, ("stage must be rnet or onet, not %s"):format(tostring(stage)) end
  local cfg = opts.cfg or config.defaults(stage)
  local landmarks = opts.landmarks == true
  local det, err = opts.det
  if not det then
    det, err = hard.detector(stage, opts.model, cfg, landmarks)
    if not det then return nil, err end
  end
  if opts.threads then sys.set_threads(opts.threads) end
  local g = {}
  for k, v in pairs(opts) do g[k] = v end
  g.kind, g.det, g.cfg, g.model, g.landmarks = landmarks and "landmark_windows" or "hard", nil, nil, nil, nil
  g.params = hard.params(cfg, landmarks)
  g.settings = hard.settings(stage, det, cfg, landmarks)
  g.val_fraction = cfg.detection.val_fraction
  g.chunk = opts.chunk or 2 * sys.threads()
  g.start_chunk = function(items, copts) return start_chunk(det, items, copts) end
  local summary, rerr, rkind = gen.run(g)
  if not summary then return nil, rerr, rkind end
  local t = summary.tally
  for _, k in ipairs(landmarks and hard.LANDMARK_TALLY or hard.TALLY) do t[k] = t[k] or 0 end
  summary.recall = t.faces_counted > 0 and t.faces_recalled / t.faces_counted or 0
  summary.detection = det:settings()
  summary.model = det.model
  local ok, werr = sys.write_atomic(summary.out .. "/summary.json", json.encode(summary, {indent = "  "}) .. "\n")
  if not ok then return nil, werr, "output" end
  return summary
end

--- hard.summary_lines(summary) -> the summary as text lines: gen.summary_lines' with what
--- the detector found and what became of its windows.
function hard.summary_lines(s)
  local lines = gen.summary_lines(s)
  local t, n = s.tally, math.max(1, s.images.done)
  local d = s.detection
  local dropped
  if s.kind == "landmark_windows" then
    dropped = ("dropped %d framing no face, %d cutting a point off, %d over the limit per face"):format(
      t.far, t.points, t.over)
  else
    dropped = ("dropped %d between the IoU bounds, %d negatives over the limit"):format(t.between, t.neg_over)
    if t.face_small > 0 then
      dropped = dropped .. (", %d positives and part faces narrower than hard_face_min_side"):format(
        t.face_small)
    end
  end
  table.insert(lines, 3, ("windows: %d (%.1f per image) from %s of %s (thresholds %s, min face %s, "
    .. "factor %s); skipped %d small, %d outside; %s"):format(t.windows, t.windows / n,
    table.concat(hard.STAGES[s.stage], " + "), s.model,
    table.concat(d.thresholds, "/", 1, #hard.STAGES[s.stage]), d.min_face, d.factor, t.small,
    t.outside, dropped))
  table.insert(lines, 4, ("recall of the faces with a side >= %d by the %s: %.4f (%d of %d)"):format(
    eval_stage.DEFAULTS.min_side, hard.STAGES[s.stage][#hard.STAGES[s.stage]], s.recall,
    t.faces_recalled, t.faces_counted))
  local rss = s.run.peak_rss_mb
  if rss then table.insert(lines, 5, ("peak memory: %.0f MB"):format(rss)) end
  return lines
end

--- hard.main(argv): the command line of scripts/gen_hard_examples.lua. Exits 2 on a bad
--- command line, 1 when the run fails.
function hard.main(argv)
  local cli = require "mtcnn.cli"
  local name = "gen_hard_examples.lua"
  local options = {
    {name = "stage", kind = "string", choices = {"rnet", "onet"},
     help = "the stage whose samples are mined: rnet (with PNet, 24x24) or onet (with PNet + RNet, 48x48)"},
    {name = "model", kind = "string", metavar = "DIR",
     help = "model folder holding the trained earlier stages (train_pnet.lua / train_rnet.lua --out)"},
  }
  for _, o in ipairs(gen.input_options("hard")) do
    if o.name == "annotations" then
      o.help = o.help .. "; with --landmarks, the landmark list (trainImageList.txt format)"
    end
    options[#options + 1] = o
  end
  options[#options + 1] = {name = "landmarks", kind = "flag",
    help = "landmark windows instead of hard examples: --annotations is a 5-point landmark list, and each window that frames a face (IoU >= --lmk-window-iou, its points inside) becomes a landmark sample of it"}
  options[#options + 1] = {name = "preset", kind = "string", choices = {"seed", "original"}, default = "seed",
    help = "mining settings to start from: the seed's (PNet 0.3, RNet 0.1, min face 20) or the original's (0.6, 0.7, 24); the options below change them"}
  for _, o in ipairs(gen.script_options("images per chunk: decoded and detected together [default: 2 per thread]")) do
    options[#options + 1] = o
  end
  for _, o in ipairs(config.options("pnet", {"hard", "landmark_windows"})) do
    if o.name ~= "config" and o.name ~= "set" then options[#options + 1] = o end
  end
  for _, o in ipairs(config.options("pnet", {"detection"})) do
    if o.config_key == "val_fraction" or o.name == "config" or o.name == "set" then options[#options + 1] = o end
  end
  local args, fail = cli.script(argv, {
    name = name,
    usage = "mtcnn scripts/gen_hard_examples.lua --stage rnet|onet --model DIR --annotations FILE --images DIR --out DIR [--landmarks] [options]",
    description = "Hard examples for RNet or ONet: the trained earlier stages run over the training images\n"
      .. "and each window they keep is squared, cut and labelled by its IoU with the faces (negatives,\n"
      .. "part faces, positives; at most --hard-neg-max negatives per image). With --landmarks, over\n"
      .. "a landmark list instead: each window that frames a face becomes a landmark sample of it\n"
      .. "(landmark windows: the stage learns landmarks on faces framed as the cascade frames them).\n"
      .. "Decoding, detection and cutting on all cores; the validation split of the PNet samples\n"
      .. "(or of the landmark samples) for the same seed; resumable after a kill (--resume); missing\n"
      .. "and unreadable images skipped with a count.",
    options = options,
  })
  local function usage_error(msg) fail(msg, 2) end
  if not args.stage then usage_error("--stage is required") end
  if not args.model then usage_error("--model is required") end
  gen.check_args(args, usage_error)
  local stage = args.stage
  local cfg, cerr = hard.base(stage, args.preset)
  if cfg then cfg, cerr = config.resolve(stage, args, {"hard", "detection", "landmark_windows"}, cfg) end
  if not cfg then usage_error(cerr) end
  local landmarks = args.landmarks == true
  local det, derr = hard.detector(stage, args.model, cfg, landmarks)
  if not det then fail(derr) end

  local entries, stats, missing_names = gen.read_entries(landmarks and "landmarks" or "hard", args)
  if not entries then fail(stats) end
  local size = cfg.detection.size
  local progress, note, finish = gen.reporter(name, ("%s %s%dx%d"):format(stage,
                                              landmarks and "landmark windows " or "", size, size), "img",
                                              not args.quiet and not args.json)
  local summary, err, kind = hard.run{
    stage = stage, det = det, cfg = cfg, landmarks = landmarks, entries = entries, out = args.out,
    seed = args.seed, resume = args.resume, force = args.force,
    threads = args.threads or sys.cpu_count(), chunk = args.chunk,
    commit_seconds = args.commit_every, limit = args.limit,
    source = args.annotations:match("[^/]+$"), listed = stats.listed, missing = stats.missing,
    missing_examples = missing_names, progress = progress, note = note,
  }
  finish()
  if not summary then fail(err, kind == "output" and cli.EXIT.output or cli.EXIT.failed) end
  local used = {detection = cfg.detection, hard = cfg.hard}
  if landmarks then used.landmark_windows = cfg.landmark_windows end
  gen.finish(summary, used, stage, name, args,
             hard.summary_lines(summary), fail)
end

return hard

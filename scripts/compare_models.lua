-- compare_models.lua: two or more detection models side by side on WIDER FACE val and the
-- landmark test list, each at several presets, with their PR curves in one picture and the
-- detection speed of each.
--   mtcnn scripts/compare_models.lua --models original,DIR --wider DIR --landmarks DIR --out DIR

local mtcnn = require "mtcnn"
local child = require "mtcnn.child"
local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"
local detector = require "mtcnn.detector"
local results = require "mtcnn.eval.results"
local plot = require "mtcnn.eval.plot"
local runs = require "mtcnn.eval.runs"

-- the detector's presets, by name
local PRESETS = {}
for name in pairs(detector.PRESETS) do PRESETS[#PRESETS + 1] = name end
table.sort(PRESETS)

local args, fail = cli.script(arg, {
  name = "compare_models.lua",
  usage = "mtcnn scripts/compare_models.lua --models A,B[,...] --wider DIR --landmarks DIR --out DIR [options]",
  description = "Evaluates each model at each preset with the project's own scripts (detect.lua on the\n"
    .. "WIDER val images present, eval_wider.lua, eval_landmarks.lua, bench.lua detect) and prints\n"
    .. "one table: WIDER AP easy/medium/hard, landmark NME, failure rate and misses, and the\n"
    .. "detection time of each model. The PR curves of every run go into one picture\n"
    .. "(OUT/wider_pr.png, needs gnuplot). Every result is kept in OUT under a key of the model's\n"
    .. "manifest, the preset and the inputs, so that running the same command again only redoes\n"
    .. "what changed.",
  options = {
    {name = "models", kind = "string", metavar = "A,B", required = "two or more models",
     help = "comma-separated model folders or names of folders of models/ (original, ours)"},
    {name = "labels", kind = "string", metavar = "A,B",
     help = "names of the models in the table [default: the bundled name, else the manifest's name or the folder's]"},
    {name = "wider", kind = "string", metavar = "DIR", required = "the WIDER FACE folder",
     help = "WIDER FACE: WIDER_val/images, wider_face_split/wider_face_val_bbx_gt.txt, eval_tools/"},
    {name = "landmarks", kind = "string", metavar = "DIR", required = "the landmark set's folder",
     help = "the landmark set: testImageList.dev.txt (else testImageList.txt) and its images"},
    {name = "out", kind = "string", metavar = "DIR", required = "the output folder",
     help = "where detections, result files, the picture and the cache go"},
    {name = "presets", kind = "string", metavar = "A,B", default = "original,wider",
     help = "detector presets to run each model at (original, seed, wider)"},
    {name = "wider-images", kind = "int", metavar = "N", range = "[1, inf)",
     help = "only the first N val images present [default: all]"},
    {name = "landmark-faces", kind = "int", metavar = "N", range = "[1, inf)",
     help = "only the first N faces of the landmark list [default: all]"},
    {name = "bench-reps", kind = "int", metavar = "N", default = 20, range = "[1, inf)",
     help = "timed repetitions of bench.lua detect (the median is reported)"},
    {name = "threads", kind = "int", metavar = "N", range = "[1, inf)", help = "threads of every child [default: all cores]"},
    {name = "json", kind = "flag", help = "print one JSON object instead of the table"},
    {name = "quiet", kind = "flag", help = "no progress from this script or its children"},
  },
})

-- ---- the command line, checked before any work ------------------------------------------------

local function split(text)
  local out = {}
  for part in text:gmatch("[^,]+") do
    part = part:match("^%s*(.-)%s*$")
    if part ~= "" then out[#out + 1] = part end
  end
  return out
end

local wider_dir = args.wider:gsub("(.)/$", "%1")
local lm_dir = args.landmarks:gsub("(.)/$", "%1")
local out_dir = args.out:gsub("(.)/$", "%1")
local threads = args.threads or sys.cpu_count()

local presets = split(args.presets)
if #presets == 0 then fail("--presets names no preset", 2) end
for _, p in ipairs(presets) do
  if not detector.PRESETS[p] then fail(("--presets: %s is not one of %s"):format(p, table.concat(PRESETS, ", ")), 2) end
end

local names = split(args.models)
if #names == 0 then fail("--models names no model", 2) end
local labels = args.labels and split(args.labels)
if labels and #labels ~= #names then
  fail(("--labels gives %d names for %d models"):format(#labels, #names), 2)
end

-- each model: runs.model's {dir, manifest, key} with its label and slug (file names)
local models, slugs = {}, {}
for i, name in ipairs(names) do
  local m, err = runs.model(name)
  if not m then fail("--models: " .. err, 2) end
  local label = labels and labels[i]
  if not label then
    local st = sys.stat(name)
    if not (st and st.type == "directory") then
      label = name -- a bundled model: its name
    elseif m.name and m.name ~= "" then
      label = m.name
    else
      label = m.dir:gsub("/+$", ""):match("([^/]+)$") or m.dir
    end
  end
  local slug = label:gsub("[^%w_%-]", "_")
  local base, k = slug, 1
  while slugs[slug] do k = k + 1 slug = base .. "_" .. k end
  if labels and slug ~= base then fail(("--labels: %s is given twice"):format(label), 2) end
  if slug ~= base then label = label .. " " .. k end
  slugs[slug] = true
  m.label, m.slug = label, slug
  models[i] = m
end

do
  local ok, err = runs.wider_paths(args.wider)
  if not ok then fail("--wider " .. err, 2) end
  ok, err = runs.landmark_list(args.landmarks)
  if not ok then fail("--landmarks " .. err, 2) end
end

local ok, err = sys.mkdir(out_dir)
if not ok then fail(("--out: cannot create %s: %s"):format(out_dir, tostring(err)), cli.EXIT.output) end

-- ---- running the project's scripts -------------------------------------------------------------

local function say(fmt, ...)
  if not args.quiet then io.stderr:write(fmt:format(...), "\n") end
end

local BIN = child.host_binary()
local SCRIPTS = (mtcnn.home or ".") .. "/scripts"

-- Runs scripts/argv[1] with argv[2..] (stdout to stdout_file); true | nil, message.
local function run_child(argv, stdout_file)
  say("$ %s", child.display(argv))
  local okc, cerr = child.run(argv, {bin = BIN, scripts = SCRIPTS, threads = threads,
    env = args.quiet and "MTCNN_NO_PROGRESS=1" or nil, stdout = stdout_file or "/dev/null"})
  return okc, cerr
end

local evals = runs.new{out = out_dir, run = run_child, say = say, threads = threads}

-- ---- the inputs -------------------------------------------------------------------------------

local function input(set, serr, kind)
  if not set then fail(serr, kind == "output" and cli.EXIT.output or cli.EXIT.failed) end
  return set
end
local wider_set = input(runs.wider_set{wider = wider_dir, out = out_dir, images = args.wider_images})
local lm_set = input(runs.landmark_set{landmarks = lm_dir, out = out_dir, faces = args.landmark_faces})

say("%d WIDER val images (%d listed, %d present), %d landmark faces (%s); %d model%s x %d preset%s",
  wider_set.count, wider_set.listed, wider_set.present, lm_set.faces, lm_set.source, #models,
  #models > 1 and "s" or "", #presets, #presets > 1 and "s" or "")

-- ---- the runs ---------------------------------------------------------------------------------

local failures = {}
local function failed(what, msg)
  failures[#failures + 1] = what .. ": " .. msg
  io.stderr:write("error: ", what, ": ", msg, "\n")
end
-- an output that could not be written (the cache, the picture, the report): status 3 at the end
local output_failed = false

local rows, wider_files, speeds = {}, {}, {}
for _, m in ipairs(models) do
  for _, preset in ipairs(presets) do
    local run = {label = m.label, model = m.dir, preset = preset}
    local doc, saved = evals:wider(m, preset, wider_set)
    if doc then
      run.wider = doc.summary
      wider_files[#wider_files + 1] = saved
    else
      failed(("%s (%s), WIDER"):format(m.label, preset), saved)
    end
    local lm, lerr = evals:landmarks(m, preset, lm_set)
    if lm then run.landmarks = lm.summary else failed(("%s (%s), landmarks"):format(m.label, preset), lerr) end
    rows[#rows + 1] = run
  end
  local row, serr = evals:speed(m, {reps = args.bench_reps})
  if row then speeds[m.label] = row else failed(m.label .. ", speed", serr) end
end

-- ---- the picture -------------------------------------------------------------------------------

local png = out_dir .. "/wider_pr.png"
local picture, no_picture
if #wider_files > 0 then
  local docs, lerr = results.load_list(table.concat(wider_files, ","), "wider")
  local drawn, perr, why
  if docs then drawn, perr, why = plot.wider(docs, png) else perr = lerr end
  if drawn then
    picture = png
    say("PR curves of %d runs: %s", #docs, png)
  else
    no_picture = tostring(perr)
    -- gnuplot is optional; a picture it could not write is an output lost
    if why == "failed" then output_failed = true end
    io.stderr:write(why == "failed" and "error" or "warning", ": no picture: ", no_picture, "\n")
  end
end

-- ---- the report --------------------------------------------------------------------------------

local function num(v, f)
  if type(v) ~= "number" or v ~= v then return "-" end
  return (f or "%.4f"):format(v)
end

local summary = json.ordered({
  models = (function()
    local list = {}
    for i, m in ipairs(models) do
      list[i] = json.ordered({label = m.label, model = m.dir, speed = speeds[m.label] or json.null},
        {"label", "model", "speed"})
    end
    return list
  end)(),
  presets = presets, wider_images = wider_set.count, landmark_list = lm_set.source,
  landmark_faces = lm_set.faces, runs = rows, plot = picture or json.null, plot_missing = no_picture, failures = failures,
}, {"models", "presets", "wider_images", "landmark_list", "landmark_faces", "runs", "plot",
    "plot_missing", "failures"})
ok, err = sys.write_atomic(out_dir .. "/compare.json", json.encode(summary, {indent = "  "}) .. "\n")
if not ok then
  io.stderr:write("error: ", err, "\n")
  output_failed = true
end

if args.json then
  print(json.encode(summary))
else
  print(("WIDER FACE val: %d images (AP, --iou exact); landmarks: %d faces of %s"):format(
    wider_set.count, lm_set.faces, lm_set.source))
  print("")
  print("| model | preset | easy | medium | hard | NME | failure rate | misses | detect ms |")
  print("|---|---|---|---|---|---|---|---|---|")
  local shown = {}
  for _, r in ipairs(rows) do
    local w, l = r.wider or {}, r.landmarks or {}
    -- the speed is one figure per model (bench.lua's defaults): on the model's first row
    local ms = "-"
    if not shown[r.label] and speeds[r.label] then
      ms = num(speeds[r.label].ms_median, "%.1f")
      shown[r.label] = true
    end
    print(("| %s | %s | %s | %s | %s | %s | %s | %s | %s |"):format(r.label, r.preset, num(w.easy),
      num(w.medium), num(w.hard), num(l.nme), l.failure_rate and num(100 * l.failure_rate, "%.2f%%") or "-",
      l.misses and ("%d of %d"):format(l.misses, l.faces or 0) or "-", ms))
  end
  local any = next(speeds) and select(2, next(speeds))
  if any then
    print("")
    print(("detect ms: scripts/bench.lua detect, median of %d on %s (%dx%d), min face %s, %d threads, CPU")
      :format(args.bench_reps, any.image, any.width, any.height, tostring(any.min_face), any.threads))
  end
  if picture then print("PR curves: " .. picture) end
end

if output_failed or evals.output_failed then os.exit(cli.EXIT.output) end
os.exit(#failures > 0 and cli.EXIT.failed or cli.EXIT.ok)

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
     help = "comma-separated model folders or names of folders of models/ (original)"},
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

local function exists(path) return sys.stat(path) ~= nil end

local function split(text)
  local out = {}
  for part in text:gmatch("[^,]+") do
    part = part:match("^%s*(.-)%s*$")
    if part ~= "" then out[#out + 1] = part end
  end
  return out
end

local function read_text(path)
  local f = io.open(path, "rb")
  local s = f and f:read("a")
  if f then f:close() end
  return s
end

-- a short fingerprint of a text for the cache keys: its CRC-32C and length
local function digest(text) return ("%08x:%d"):format(sys.crc32c(text), #text) end

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

-- each model: {label, slug (file names), dir, manifest (its text: the cache key)}
local models, slugs = {}, {}
for i, name in ipairs(names) do
  local dir, err = detector.resolve_model(name)
  if not dir then fail("--models: " .. err, 2) end
  local text = read_text(dir .. "/manifest.json")
  if not text then fail(("--models: %s has no manifest.json"):format(dir), 2) end
  local manifest = json.decode(text)
  for _, arch in ipairs({"pnet", "rnet", "onet"}) do
    if type(manifest) ~= "table" or type(manifest.nets) ~= "table" or type(manifest.nets[arch]) ~= "string" then
      fail(("--models: %s/manifest.json names no %s (the whole cascade is compared)"):format(dir, arch), 2)
    end
  end
  local label = labels and labels[i]
  if not label then
    local st = sys.stat(name)
    if not (st and st.type == "directory") then
      label = name -- a bundled model: its name
    elseif type(manifest.name) == "string" and manifest.name ~= "" then
      label = manifest.name
    else
      label = dir:gsub("/+$", ""):match("([^/]+)$") or dir
    end
  end
  local slug = label:gsub("[^%w_%-]", "_")
  local base, k = slug, 1
  while slugs[slug] do k = k + 1 slug = base .. "_" .. k end
  if labels and slug ~= base then fail(("--labels: %s is given twice"):format(label), 2) end
  if slug ~= base then label = label .. " " .. k end
  slugs[slug] = true
  -- what the cache keys name the model by: its manifest and the files of its nets
  local parts = {text}
  for _, arch in ipairs({"pnet", "rnet", "onet"}) do
    parts[#parts + 1] = arch .. " " .. digest(read_text(dir .. "/" .. manifest.nets[arch]) or "")
  end
  models[i] = {label = label, slug = slug, dir = dir, manifest = table.concat(parts, "\n")}
end

local val_gt = wider_dir .. "/wider_face_split/wider_face_val_bbx_gt.txt"
local val_images = wider_dir .. "/WIDER_val/images"
local eval_tools = wider_dir .. "/eval_tools"
for _, p in ipairs({val_gt, val_images, eval_tools}) do
  if not exists(p) then fail(("--wider %s: no %s"):format(args.wider, p), 2) end
end
local lm_list = exists(lm_dir .. "/testImageList.dev.txt") and lm_dir .. "/testImageList.dev.txt"
                or lm_dir .. "/testImageList.txt"
if not exists(lm_list) then
  fail(("--landmarks %s: no testImageList.dev.txt nor testImageList.txt"):format(args.landmarks), 2)
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

-- The cache: OUT/cache.json maps each result file's name to the digest of the key it was made
-- under.
local CACHE = out_dir .. "/cache.json"
local cache = json.read_file(CACHE)
if type(cache) ~= "table" then cache = {} end
local output_failed = false

local function remember(file, key)
  cache[file:match("[^/]+$")] = digest(key)
  local okw, werr = sys.write_atomic(CACHE, json.encode(cache, {indent = "  "}) .. "\n")
  if not okw then
    io.stderr:write("error: ", werr, "\n")
    output_failed = true
  end
end

local function cached(file, key)
  return cache[file:match("[^/]+$")] == digest(key) and exists(file)
end

local function write(path, text)
  local okw, werr = sys.write_atomic(path, text)
  if not okw then fail(werr, cli.EXIT.output) end
end

-- ---- the inputs -------------------------------------------------------------------------------

local data = require "mtcnn.data"
local entries, stats = data.read_wider(val_gt, {images = val_images})
if not entries then fail(stats) end
if #entries == 0 then fail(("no image of %s is present under %s"):format(val_gt, val_images)) end
local n_images = args.wider_images and math.min(args.wider_images, #entries) or #entries
local lines = {}
for i = 1, n_images do lines[i] = entries[i].path end
local image_list = out_dir .. "/wider_val_images.txt"
local image_text = table.concat(lines, "\n") .. "\n"
write(image_list, image_text)

local lm_used = lm_list
local lm_text = read_text(lm_list) or ""
local lm_faces = 0
do
  local kept = {}
  for line in lm_text:gmatch("[^\r\n]+") do
    if line:find("%S") and (not args.landmark_faces or #kept < args.landmark_faces) then
      kept[#kept + 1] = line
    end
  end
  lm_faces = #kept
  if args.landmark_faces then
    lm_used = out_dir .. "/landmark_test.txt"
    lm_text = table.concat(kept, "\n") .. "\n"
    write(lm_used, lm_text)
  end
end

say("%d WIDER val images (%d listed, %d present), %d landmark faces (%s); %d model%s x %d preset%s",
  n_images, stats.listed, #entries, lm_faces, lm_list, #models, #models > 1 and "s" or "",
  #presets, #presets > 1 and "s" or "")

-- ---- the runs ---------------------------------------------------------------------------------

local failures = {}
local function failed(what, msg)
  failures[#failures + 1] = what .. ": " .. msg
  io.stderr:write("error: ", what, ": ", msg, "\n")
end

local function wider_run(m, preset)
  local base = ("%s/%s_%s_wider"):format(out_dir, m.slug, preset)
  local saved = base .. ".json"
  local key = table.concat({"wider", m.manifest, preset, digest(image_text), eval_tools}, "\n")
  if cached(saved, key) then
    say("%s (%s), WIDER: done earlier (%s)", m.label, preset, saved)
  else
    local pred = base .. ".jsonl"
    os.remove(pred)
    local okc, cerr = run_child({"detect.lua", "--model", m.dir, "--preset", preset, "--json", pred,
      "--quiet", "--threads", tostring(threads), image_list})
    if not okc then return nil, cerr end
    local argv = {"eval_wider.lua", "--pred", pred, "--gt", eval_tools, "--iou", "exact", "--json",
                  "--save", saved, "--label", ("%s (%s)"):format(m.label, preset)}
    if n_images == #entries then
      argv[#argv + 1] = "--images"
      argv[#argv + 1] = wider_dir .. "/WIDER_val"
    end
    okc, cerr = run_child(argv)
    if not okc then return nil, cerr end
    remember(saved, key)
  end
  local doc, derr = results.load(saved, "wider")
  if not doc then return nil, derr end
  return doc, saved
end

local function landmark_run(m, preset)
  local saved = ("%s/%s_%s_landmarks.json"):format(out_dir, m.slug, preset)
  local key = table.concat({"landmarks", m.manifest, preset, digest(lm_text), lm_dir}, "\n")
  if cached(saved, key) then
    say("%s (%s), landmarks: done earlier (%s)", m.label, preset, saved)
  else
    local okc, cerr = run_child({"eval_landmarks.lua", "--list", lm_used, "--root", lm_dir,
      "--model", m.dir, "--preset", preset, "--json", "--save", saved,
      "--label", ("%s (%s)"):format(m.label, preset)})
    if not okc then return nil, cerr end
    remember(saved, key)
  end
  local doc, derr = results.load(saved, "landmarks")
  if not doc then return nil, derr end
  return doc
end

-- bench.lua detect at its defaults (its image, minimum face 20), on the CPU: one figure per model
local function speed_run(m)
  local saved = ("%s/%s_bench.json"):format(out_dir, m.slug)
  local key = table.concat({"bench", m.manifest, tostring(args.bench_reps), tostring(threads)}, "\n")
  if cached(saved, key) then
    say("%s, speed: measured earlier (%s)", m.label, saved)
  else
    local tmp = saved .. ".out"
    local okc, cerr = run_child({"bench.lua", "detect", "--model", m.dir, "--device", "cpu",
      "--threads", tostring(threads), "--reps", tostring(args.bench_reps), "--json"}, tmp)
    if not okc then os.remove(tmp) return nil, cerr end
    local text = read_text(tmp) or ""
    os.remove(tmp)
    local row = json.decode(text:match("[^\n]+") or "")
    if type(row) ~= "table" or type(row.ms_median) ~= "number" then
      return nil, "bench.lua detect printed no measurement"
    end
    local okw, werr = sys.write_atomic(saved, json.encode(row) .. "\n")
    if not okw then
      io.stderr:write("error: ", werr, "\n")
      output_failed = true
      return row
    end
    remember(saved, key)
  end
  return json.read_file(saved)
end

local runs, wider_files, speeds = {}, {}, {}
for _, m in ipairs(models) do
  for _, preset in ipairs(presets) do
    local run = {label = m.label, model = m.dir, preset = preset}
    local doc, saved = wider_run(m, preset)
    if doc then
      run.wider = doc.summary
      wider_files[#wider_files + 1] = saved
    else
      failed(("%s (%s), WIDER"):format(m.label, preset), saved)
    end
    local lm, lerr = landmark_run(m, preset)
    if lm then run.landmarks = lm.summary else failed(("%s (%s), landmarks"):format(m.label, preset), lerr) end
    runs[#runs + 1] = run
  end
  local row, serr = speed_run(m)
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
  presets = presets, wider_images = n_images, landmark_list = lm_list, landmark_faces = lm_faces,
  runs = runs, plot = picture or json.null, plot_missing = no_picture, failures = failures,
}, {"models", "presets", "wider_images", "landmark_list", "landmark_faces", "runs", "plot",
    "plot_missing", "failures"})
write(out_dir .. "/compare.json", json.encode(summary, {indent = "  "}) .. "\n")

if args.json then
  print(json.encode(summary))
else
  print(("WIDER FACE val: %d images (AP, --iou exact); landmarks: %d faces of %s"):format(n_images,
    lm_faces, lm_list))
  print("")
  print("| model | preset | easy | medium | hard | NME | failure rate | misses | detect ms |")
  print("|---|---|---|---|---|---|---|---|---|")
  local shown = {}
  for _, r in ipairs(runs) do
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

if output_failed then os.exit(cli.EXIT.output) end
os.exit(#failures > 0 and cli.EXIT.failed or cli.EXIT.ok)

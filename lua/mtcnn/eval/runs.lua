-- mtcnn.eval.runs: a detection model's evaluation as the project's own scripts run it, in child
-- processes (detect.lua then eval_wider.lua on WIDER val; eval_landmarks.lua on a landmark
-- list; bench.lua detect for the speed), each result file kept in one folder under a key of
-- the model and the inputs, so that asking again only redoes what changed. compare_models.lua
-- and pipeline.lua's final evaluation both run models through it.
--
--   local runs = require "mtcnn.eval.runs"
--   local r = runs.new{out = dir, run = function(argv, stdout_file) ... end}
--   local m = assert(runs.model("original"))               -- {dir, key, name}
--   local wider = assert(runs.wider_set{wider = DIR, out = dir, images = 6})
--   local doc = assert(r:wider(m, "original", wider))      -- {label, summary, curves}
--   local lms = assert(runs.landmark_set{landmarks = DIR, out = dir, faces = 20})
--   doc = assert(r:landmarks(m, "original", lms))
--   local row = assert(r:speed(m, {reps = 20, threads = 2}))  -- bench.lua detect's JSON row
--
-- run(argv, stdout_file) runs scripts/argv[1] with argv[2..] (mtcnn.child) and returns true |
-- nil, message; the owner decides how (threads, progress, a pid file). A result file is written
-- by the child under a temporary name and renamed; the cache (OUT/cache.json) maps each
-- file's name to a digest of its key. A cache that cannot be written is an output lost:
-- r.output_failed is set and the run goes on.

local json = require "mtcnn.json"
local sys = require "mtcnn.sys"
local results = require "mtcnn.eval.results"

local runs = {}

local Runs = {}
Runs.__index = Runs

local ARCHS = {"pnet", "rnet", "onet"}

local function exists(path) return sys.stat(path) ~= nil end

local function read_text(path)
  local f = io.open(path, "rb")
  local s = f and f:read("a")
  if f then f:close() end
  return s
end

-- a short fingerprint of a text for the cache keys: its CRC-32C and length
local function digest(text) return ("%08x:%d"):format(sys.crc32c(text), #text) end

--- runs.model(name_or_dir) -> {dir, name, manifest, key} | nil, message: a whole cascade's
--- model folder (a bundled name resolves to models/NAME). key names it for the cache: the
--- manifest's text and a digest of each net's file, so that a retrained net is a new model.
function runs.model(model)
  local detector = require "mtcnn.detector"
  local dir, err = detector.resolve_model(model)
  if not dir then return nil, err end
  local text = read_text(dir .. "/manifest.json")
  if not text then return nil, ("%s has no manifest.json"):format(dir) end
  local manifest = json.decode(text)
  for _, arch in ipairs(ARCHS) do
    if type(manifest) ~= "table" or type(manifest.nets) ~= "table" or type(manifest.nets[arch]) ~= "string" then
      return nil, ("%s/manifest.json names no %s (the whole cascade is evaluated)"):format(dir, arch)
    end
  end
  local parts = {text}
  for _, arch in ipairs(ARCHS) do
    parts[#parts + 1] = arch .. " " .. digest(read_text(dir .. "/" .. manifest.nets[arch]) or "")
  end
  return {dir = dir, manifest = manifest, key = table.concat(parts, "\n"),
          name = type(manifest.name) == "string" and manifest.name or nil}
end

--- runs.wider_paths(dir) -> {gt, images_dir, eval_tools} | nil, message: the WIDER FACE val
--- files a WIDER folder must hold for the evaluation (nil naming the first one missing).
function runs.wider_paths(dir)
  local wider = dir:gsub("(.)/$", "%1")
  local p = {gt = wider .. "/wider_face_split/wider_face_val_bbx_gt.txt",
             images_dir = wider .. "/WIDER_val/images", eval_tools = wider .. "/eval_tools"}
  for _, path in ipairs({p.gt, p.images_dir, p.eval_tools}) do
    if not exists(path) then return nil, ("%s: no %s"):format(dir, path) end
  end
  return p
end

--- runs.landmark_list(dir) -> the landmark test list of a landmark folder:
--- testImageList.dev.txt, else testImageList.txt | nil, message.
function runs.landmark_list(dir)
  local root = dir:gsub("(.)/$", "%1")
  for _, name in ipairs({"testImageList.dev.txt", "testImageList.txt"}) do
    if exists(root .. "/" .. name) then return root .. "/" .. name end
  end
  return nil, ("%s: no testImageList.dev.txt nor testImageList.txt"):format(dir)
end

--- runs.wider_set{wider = DIR, out = DIR, images = N | nil} -> set | nil, message, kind: the
--- WIDER val images present under DIR/WIDER_val/images (in the order of
--- wider_face_split/wider_face_val_bbx_gt.txt, the first N), listed in OUT/wider_val_images.txt.
--- kind "missing" when the folder lacks the val images, annotations or eval_tools.
function runs.wider_set(opts)
  local set, err = runs.wider_paths(opts.wider)
  if not set then return nil, err, "missing" end
  set.wider = opts.wider:gsub("(.)/$", "%1")
  local data = require "mtcnn.data"
  local entries, stats = data.read_wider(set.gt, {images = set.images_dir})
  if not entries then return nil, stats end
  if #entries == 0 then return nil, ("no image of %s is present under %s"):format(set.gt, set.images_dir) end
  set.present, set.listed = #entries, stats.listed
  set.count = opts.images and math.min(opts.images, #entries) or #entries
  local lines = {}
  for i = 1, set.count do lines[i] = entries[i].path end
  set.text = table.concat(lines, "\n") .. "\n"
  set.list = opts.out .. "/wider_val_images.txt"
  local ok
  ok, err = sys.write_atomic(set.list, set.text)
  if not ok then return nil, err, "output" end
  return set
end

--- runs.landmark_set{landmarks = DIR, out = DIR, faces = N | nil} -> set | nil, message, kind:
--- DIR/testImageList.dev.txt (else testImageList.txt), its first N faces copied into
--- OUT/landmark_test.txt when N is given.
function runs.landmark_set(opts)
  local root = opts.landmarks:gsub("(.)/$", "%1")
  local list, lerr = runs.landmark_list(opts.landmarks)
  if not list then return nil, lerr, "missing" end
  local text = read_text(list) or ""
  local kept = {}
  for line in text:gmatch("[^\r\n]+") do
    if line:find("%S") and (not opts.faces or #kept < opts.faces) then kept[#kept + 1] = line end
  end
  local set = {root = root, source = list, list = list, text = text, faces = #kept}
  if opts.faces then
    set.list = opts.out .. "/landmark_test.txt"
    set.text = table.concat(kept, "\n") .. "\n"
    local ok, err = sys.write_atomic(set.list, set.text)
    if not ok then return nil, err, "output" end
  end
  return set
end

--- runs.new{out = DIR, run = function(argv, stdout_file), say = function(fmt, ...), threads = N}
function runs.new(opts)
  local self = setmetatable({out = opts.out, run = opts.run, say = opts.say or function() end,
                             threads = opts.threads or sys.cpu_count(), output_failed = false}, Runs)
  self.cache_path = self.out .. "/cache.json"
  local cache = json.read_file(self.cache_path)
  self.cache = type(cache) == "table" and cache or {}
  return self
end

function Runs:remember(file, key)
  self.cache[file:match("[^/]+$")] = digest(key)
  local ok, err = sys.write_atomic(self.cache_path, json.encode(self.cache, {indent = "  "}) .. "\n")
  if not ok then
    io.stderr:write("error: ", err, "\n")
    self.output_failed = true
  end
end

function Runs:cached(file, key)
  return self.cache[file:match("[^/]+$")] == digest(key) and exists(file)
end

-- the file names of a model's results: its slug (m.slug, else from its label), the preset
local function base_name(self, m, preset, what)
  local slug = m.slug or tostring(m.label or m.name or "model"):gsub("[^%w_%-]", "_")
  return ("%s/%s_%s%s"):format(self.out, slug, preset and (preset .. "_") or "", what)
end

--- r:wider(m, preset, set) -> the result document (mtcnn.eval.results) | nil, message:
--- detect.lua at the preset on set's images, then eval_wider.lua with exact IoU (every
--- image counts when set holds all the present ones). m: runs.model's, with label (the
--- table's name) and slug (the file names) added by the caller.
function Runs:wider(m, preset, set)
  local base = base_name(self, m, preset, "wider")
  local saved = base .. ".json"
  local key = table.concat({"wider", m.key, preset, digest(set.text), set.eval_tools}, "\n")
  if self:cached(saved, key) then
    self.say("%s (%s), WIDER: done earlier (%s)", m.label, preset, saved)
  else
    local pred = base .. ".jsonl"
    os.remove(pred)
    local ok, err = self.run({"detect.lua", "--model", m.dir, "--preset", preset, "--json", pred,
      "--quiet", "--threads", tostring(self.threads), set.list})
    if not ok then return nil, err end
    local argv = {"eval_wider.lua", "--pred", pred, "--gt", set.eval_tools, "--iou", "exact", "--json",
                  "--save", saved, "--label", ("%s (%s)"):format(m.label, preset)}
    if set.count == set.present then
      argv[#argv + 1] = "--images"
      argv[#argv + 1] = set.wider .. "/WIDER_val"
    end
    ok, err = self.run(argv)
    if not ok then return nil, err end
    self:remember(saved, key)
  end
  local doc, err = results.load(saved, "wider")
  if not doc then return nil, err end
  return doc, saved
end

--- r:landmarks(m, preset, set) -> the result document | nil, message: eval_landmarks.lua
--- detecting with the model at the preset on set's faces.
function Runs:landmarks(m, preset, set)
  local saved = base_name(self, m, preset, "landmarks.json")
  local key = table.concat({"landmarks", m.key, preset, digest(set.text), set.root}, "\n")
  if self:cached(saved, key) then
    self.say("%s (%s), landmarks: done earlier (%s)", m.label, preset, saved)
  else
    local ok, err = self.run({"eval_landmarks.lua", "--list", set.list, "--root", set.root,
      "--model", m.dir, "--preset", preset, "--json", "--save", saved,
      "--label", ("%s (%s)"):format(m.label, preset)})
    if not ok then return nil, err end
    self:remember(saved, key)
  end
  return results.load(saved, "landmarks")
end

--- r:speed(m, {reps}) -> bench.lua detect's JSON row | nil, message: the model at its
--- defaults (the bench's image, minimum face 20) on the CPU, the median of reps runs.
function Runs:speed(m, opts)
  local saved = base_name(self, m, nil, "bench.json")
  local key = table.concat({"bench", m.key, tostring(opts.reps), tostring(self.threads)}, "\n")
  if self:cached(saved, key) then
    self.say("%s, speed: measured earlier (%s)", m.label, saved)
    local row = json.read_file(saved)
    if type(row) == "table" then return row end
  end
  local tmp = saved .. ".out"
  local ok, err = self.run({"bench.lua", "detect", "--model", m.dir, "--device", "cpu",
    "--threads", tostring(self.threads), "--reps", tostring(opts.reps), "--json"}, tmp)
  if not ok then os.remove(tmp) return nil, err end
  local text = read_text(tmp) or ""
  os.remove(tmp)
  local row = json.decode(text:match("[^\n]+") or "")
  if type(row) ~= "table" or type(row.ms_median) ~= "number" then
    return nil, "bench.lua detect printed no measurement"
  end
  local okw, werr = sys.write_atomic(saved, json.encode(row) .. "\n")
  if not okw then
    io.stderr:write("error: ", werr, "\n")
    self.output_failed = true
    return row
  end
  self:remember(saved, key)
  return row
end

return runs

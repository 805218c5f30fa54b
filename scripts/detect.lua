-- detect.lua: finds faces and their five landmarks in images.
--   mtcnn scripts/detect.lua [options] IMAGE|DIR|LIST...     (or: mtcnn detect ...)
-- See --help. Results are lines on stdout, JSON Lines (--json, "-" for stdout), pictures
-- (--draw), face crops (--crop) and aligned face crops (--align); a run over many images can
-- be stopped and resumed.
-- Exit status: 0 all done, 1 some inputs failed (each named on stderr, the rest done),
-- 2 a bad command line, 3 an output could not be written.

local mtcnn = require "mtcnn"
local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"
local image = require "mtcnn.image"
local detector = require "mtcnn.detector"
local progress = require "mtcnn.progress"
local jsonl = require "mtcnn.jsonl"
local faces_mod = require "mtcnn.faces"
local EXIT = cli.EXIT
local R = detector.RANGES

local args, die = cli.script(arg, {
  name = "detect.lua",
  usage = "mtcnn scripts/detect.lua [options] IMAGE|DIR|LIST...",
  description = "Detects faces with the MTCNN cascade. Inputs are image files, folders (searched\n" ..
    "recursively for .jpg/.jpeg/.png) or list files (.txt/.lst: one image path per line, relative\n" ..
    "to the current folder or to the list's folder). Each image's faces are printed on stdout\n" ..
    "(box, score) with the image's own detection time. Boxes are [x1, y1, x2, y2] in pixels,\n" ..
    "0-based with inclusive x2/y2 (--box-format xywh: [x, y, width, height]); landmarks are left\n" ..
    "eye, right eye, nose, left and right mouth corner (in JSON a list, \"landmarks\", and by\n" ..
    "name, \"keypoints\": left_eye, right_eye, nose, mouth_left, mouth_right). The JSON's first\n" ..
    "line records the model (its checksum) and every setting: {\"mtcnn\": {...}}.",
  rest = {name = "IMAGE", help = "images, folders or list files", required = true},
  options = {
    {name = "model", kind = "string", metavar = "DIR|NAME", help = "model folder, or the name of a folder of models/ (original: the default; ours)"},
    {name = "preset", kind = "string", choices = {"original", "seed", "wider"}, default = "original",
     help = "named settings; the options below override them"},
    {name = "min-face", kind = "number", metavar = "N", range = R.min_face,
     help = "smallest face side in pixels (preset: 20)"},
    {name = "factor", kind = "number", metavar = "F", range = R.factor,
     help = "pyramid scale step (preset: 0.709)"},
    {name = "thresholds", kind = "list", count = 3, metavar = "A,B,C", range = R.threshold,
     help = "PNet, RNet, ONet score thresholds (preset: 0.6,0.7,0.7)"},
    {name = "resize", kind = "string", choices = {"area", "bilinear"}, default = "area",
     help = "pyramid and crop resizing"},
    {name = "flip-landmarks", kind = "flag", help = "average landmarks with mirrored crops (MATLAB v1)"},
    {name = "stages", kind = "string", choices = {"1", "2", "3", "pnet", "rnet", "onet"}, default = "3",
     metavar = "N", help = "cascade stages: 3 (onet) all; 1 (pnet), 2 (rnet): that stage's boxes, no landmarks"},
    {name = "threads", kind = "int", metavar = "N", range = "[1, 64]",
     help = "threads of the C kernels (default: all CPUs)"},
    {name = "device", kind = "string", choices = {"cpu", "cuda"}, default = "cpu",
     help = "where the nets run (cuda: on the GPU; images, crops and NMS stay on the CPU)"},
    {name = "batch", kind = "int", default = 8, metavar = "N", range = "[1, 4096]",
     help = "images decoded in parallel and detected together"},
    {name = "select", kind = "string", choices = faces_mod.SELECT, default = "all",
     help = "which faces: all, or the largest, best scored or most central one (see --top-k)"},
    {name = "largest", kind = "flag", help = "only the largest face (--select largest)"},
    {name = "top-k", kind = "int", metavar = "K", range = "[1, inf)",
     help = "at most K faces, the first in --select's order (all: the best K)"},
    {name = "min-score", kind = "number", metavar = "P", range = "[0, 1]", help = "drop faces scored below P"},
    {name = "clip", kind = "flag", help = "cut boxes to the image"},
    {name = "json", kind = "string", metavar = "OUT.jsonl", help = "write one JSON object per image (- for stdout)"},
    {name = "box-format", kind = "string", choices = {"xyxy", "xywh"}, default = "xyxy",
     help = "boxes in JSON and on stdout: x1,y1,x2,y2 (inclusive) or x,y,width,height"},
    {name = "landmarks", kind = "string", choices = {"both", "list", "named"}, default = "both",
     help = "landmarks in JSON: a list of [x, y] (\"landmarks\"), by name (\"keypoints\"), or both"},
    {name = "wider", kind = "string", metavar = "DIR",
     help = "also write the official WIDER FACE submission layout (DIR/EVENT/NAME.txt)"},
    {name = "resume", kind = "flag", help = "skip images already in the --json output and append"},
    {name = "draw", kind = "string", metavar = "DIR", help = "write pictures with boxes and landmarks"},
    {name = "crop", kind = "string", metavar = "DIR", help = "write face crops (the box, resized to --crop-size)"},
    {name = "crop-size", kind = "int", default = 160, metavar = "N", range = "[1, 4096]",
     help = "side of --crop crops"},
    {name = "align", kind = "string", metavar = "DIR", help = "write aligned face crops (five-point template)"},
    {name = "align-size", kind = "int", default = 112, metavar = "N", range = "[1, 4096]",
     help = "side of aligned crops"},
    {name = "margin", kind = "number", default = 0, metavar = "PX", range = "[0, inf)",
     help = "pixels of margin around the face in --crop and --align crops (as facenet-pytorch's)"},
    {name = "quiet", kind = "flag", help = "no per-image lines on stdout, no progress bar"},
  },
})

if args.resume and not args.json then die("--resume needs --json OUT.jsonl", EXIT.usage) end
if args.resume and args.json == "-" then die("--resume needs a --json file, not stdout", EXIT.usage) end
if args.largest and args.select ~= "all" and args.select ~= "largest" then
  die("--largest and --select " .. args.select .. " contradict each other", EXIT.usage)
end
for _, o in ipairs({{"crop", "crop_size"}, {"align", "align_size"}}) do
  if args[o[1]] and args.margin >= args[o[2]] then
    die(("--margin must lie in [0, --%s)"):format(o[2]:gsub("_", "-")), EXIT.usage)
  end
end
local stages = tonumber(args.stages) or args.stages
if args.align and stages ~= 3 and stages ~= "onet" then
  die("--align needs landmarks: only --stages 3 gives them", EXIT.usage)
end
if args.threads then sys.set_threads(args.threads) end

-- ---- the inputs ----------------------------------------------------------------------------

local IMAGE_EXT = {jpg = true, jpeg = true, png = true}
local LIST_EXT = {txt = true, lst = true, list = true}

local function extension(path) return (path:match("%.([%w]+)$") or ""):lower() end

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

-- Appends {path, rel} entries: rel is the path below a folder input (for --draw names).
-- Inputs that are not there, or are not what they should be, go to missing with the reason.
local function collect(path, out, missing)
  local st, err = sys.stat(path)
  if not st then
    missing[#missing + 1] = err
    return
  end
  if st.type == "directory" then
    -- each real folder once (a link back to a parent neither loops nor repeats images)
    local files, skipped = sys.walk(path)
    for _, f in ipairs(files) do
      if IMAGE_EXT[extension(f.path)] then out[#out + 1] = f end
    end
    for _, k in ipairs(skipped) do
      if IMAGE_EXT[extension(k.path)] or not k.why:match("^a folder already") then
        io.stderr:write("detect.lua: skipped ", k.path, ": ", k.why, "\n")
      end
    end
  elseif LIST_EXT[extension(path)] then
    local f, lerr = sys.open(path, "rb")
    if not f then
      missing[#missing + 1] = lerr
      return
    end
    local base = dirname(path)
    for line in f:lines() do
      local item = line:gsub("\r$", ""):match("^%s*(.-)%s*$")
      if item ~= "" and not item:match("^#") then
        local p = item
        if not sys.stat(p) and item:sub(1, 1) ~= "/" and sys.stat(base .. "/" .. item) then
          p = base .. "/" .. item
        end
        out[#out + 1] = {path = p, rel = item}
      end
    end
    f:close()
  else
    out[#out + 1] = {path = path, rel = path:match("[^/]+$")}
  end
end

local inputs, missing = {}, {}
for _, a in ipairs(args.rest) do collect(a, inputs, missing) end
for _, m in ipairs(missing) do io.stderr:write("detect.lua: ", m, "\n") end
if #inputs == 0 then die("no images to process") end

-- ---- resuming ------------------------------------------------------------------------------

local done = {}
local out, header_found
if args.json == "-" then
  out = io.stdout
elseif args.json then
  if args.resume then
    local info
    done, info = jsonl.resume(args.json, "image", "mtcnn")
    if not done then die(info, EXIT.output) end
    header_found = info.header
    if info.damaged > 0 or info.torn > 0 then
      io.stderr:write(("detect.lua: %s: dropped %d damaged line(s) and %d bytes of a torn last " ..
        "line; %d intact records kept\n"):format(args.json, info.damaged, info.torn, info.count))
    end
    if info.count > 0 then
      io.stderr:write(("detect.lua: resuming: %d images already in %s\n"):format(info.count, args.json))
    end
  end
  local dir = dirname(args.json)
  if dir ~= "." and not sys.stat(dir) then
    local ok, err = sys.mkdir(dir)
    if not ok then die(err, EXIT.output) end
  end
  local err
  out, err = sys.output(args.json, args.resume and "ab" or "wb")
  if not out then die(err, EXIT.output) end
end

for _, key in ipairs({"draw", "crop", "align", "wider"}) do
  local d = args[key]
  if d then
    local ok, err = sys.mkdir(d)
    if not ok then die(err, EXIT.output) end
  end
end

-- ---- the detector --------------------------------------------------------------------------

local det, err = detector.new{
  model = args.model, preset = args.preset, min_face = args.min_face, factor = args.factor,
  thresholds = args.thresholds, resize = args.resize, flip_landmarks = args.flip_landmarks,
  stages = stages, device = args.device, select = args.largest and "largest" or args.select,
  max_faces = args.top_k, min_score = args.min_score, clip = args.clip,
}
if not det then die(err) end

-- The first JSON line: what made the results (the model and its checksum, every setting).
local output_settings = {box_format = args.box_format, landmarks = args.landmarks,
  crop = args.crop, crop_size = args.crop_size, align = args.align, align_size = args.align_size,
  margin = args.margin, draw = args.draw, wider = args.wider}
local function header()
  return json.ordered({mtcnn = json.ordered({
    version = mtcnn.version, command = "detect.lua", model = det:model_info(),
    detector = det:settings(), output = output_settings,
    run = {batch = args.batch, threads = sys.threads()},
  }, {"version", "command", "model", "detector", "output", "run"})}, {"mtcnn"})
end
if out then
  if header_found then
    -- appending to a file made with other settings would mix two kinds of results
    local now = json.decode(json.encode(header())).mtcnn
    for _, part in ipairs({"model", "detector", "output"}) do
      if json.encode(header_found[part]) ~= json.encode(now[part]) then
        io.stderr:write(("detect.lua: warning: %s was written with other %s settings than this run's\n")
          :format(args.json, part))
      end
    end
  else
    local ok, werr = out:write(json.encode(header()), "\n")
    if ok then ok, werr = out:flush() end
    if not ok then die(werr, EXIT.output) end
  end
end

-- a name for pictures and crops: the path below the input folder, flattened
local function picture_name(entry, suffix, ext)
  local stem = entry.rel:gsub("%.[%w]+$", ""):gsub("[/\\]", "__")
  return stem .. suffix .. "." .. ext
end

local function round(v, digits)
  local m = 10 ^ digits
  return math.floor(v * m + 0.5) / m
end

local function box_of(f)
  return args.box_format == "xywh" and faces_mod.xywh(f.box) or f.box
end

local function record(entry, img, faces)
  local list = {}
  for i, f in ipairs(faces) do
    local lm, named -- (none from a partial cascade: the keys are left out)
    if f.landmarks then
      lm = {}
      for k, p in ipairs(f.landmarks) do lm[k] = {round(p[1], 3), round(p[2], 3)} end
      if args.landmarks ~= "list" then
        named = {}
        for k, name in ipairs(faces_mod.LANDMARK_NAMES) do named[name] = lm[k] end
        named = json.ordered(named, faces_mod.LANDMARK_NAMES)
      end
      if args.landmarks == "named" then lm = nil end
    end
    local b = box_of(f)
    list[i] = json.ordered({
      box = {round(b[1], 3), round(b[2], 3), round(b[3], 3), round(b[4], 3)},
      score = round(f.score, 6), landmarks = lm, keypoints = named},
      {"box", "score", "landmarks", "keypoints"})
  end
  return json.ordered({image = entry.path, width = img.width, height = img.height, faces = list},
    {"image", "width", "height", "faces"})
end

local todo = {}
for _, e in ipairs(inputs) do
  if not done[jsonl.key(e.path)] then todo[#todo + 1] = e end
end

local bar = progress.new{total = #todo, label = "detect", unit = "img",
  enabled = #todo > 1 and not args.quiet}
local failures, detected, nfaces, t0 = #missing, 0, 0, sys.clock()
local unwritten = 0 -- pictures, crops and files that could not be written

-- Ends the run when the JSON Lines output cannot be written (a full disk): the records so far
-- are whole lines, and --resume continues after them.
local function output_failed(err)
  bar:finish()
  die(err, EXIT.output)
end

-- Reports an output of one image that could not be written; the run goes on, its status is 3.
local function unwritten_output(err)
  unwritten = unwritten + 1
  bar:print("detect.lua: " .. tostring(err))
end

-- Writes everything asked for one detected image.
local function emit(entry, img, faces, ms)
  nfaces = nfaces + #faces
  if out then
    local ok, err = out:write(json.encode(record(entry, img, faces)), "\n")
    if ok then ok, err = out:flush() end
    if not ok then output_failed(err) end
  end
  if not args.quiet and args.json ~= "-" then -- (stdout holds the JSON with --json -)
    local lines = {("%s  %dx%d  %d face%s  %.1f ms"):format(entry.path, img.width, img.height,
      #faces, #faces == 1 and "" or "s", ms)}
    for _, f in ipairs(faces) do
      local b = box_of(f)
      lines[#lines + 1] = ("  %s %.1f %.1f %.1f %.1f  score %.6f"):format(args.box_format, b[1], b[2],
        b[3], b[4], f.score)
    end
    bar:print(table.concat(lines, "\n"), io.stdout)
  end
  if args.wider then
    local ok, werr = require("mtcnn.eval.predictions").write_wider(args.wider, entry.path, faces)
    if not ok then unwritten_output(werr) end
  end
  if args.draw then
    local pic = detector.draw(img, faces)
    local ext = extension(entry.path) == "png" and "png" or "jpg"
    local ok, serr = pic:save(args.draw .. "/" .. picture_name(entry, "_det", ext))
    if not ok then unwritten_output(serr) end
    pic:free()
  end
  for _, c in ipairs({{dir = args.crop, size = args.crop_size, mode = "box"},
                      {dir = args.align, size = args.align_size, mode = "aligned"}}) do
    for k = 1, c.dir and #faces or 0 do
      -- a face at a time: landmarks that coincide (a damaged model's) cannot be aligned; that
      -- face is named and left out, and the run ends with status 1
      local made, batch = pcall(faces_mod.crop, img, {faces[k]}, {size = c.size, margin = args.margin,
        mode = c.mode, normalize = false})
      if made then
        local crop = image.from_tensor(batch:select(1, 1), {normalize = false})
        batch:free()
        local ok, serr = crop:save(c.dir .. "/" .. picture_name(entry, "_face" .. k, "png"))
        if not ok then unwritten_output(serr) end
        crop:free()
      else
        failures = failures + 1
        bar:print(("detect.lua: %s: face %d cannot be %s: %s"):format(entry.path, k,
          c.mode == "aligned" and "aligned" or "cropped", (tostring(batch):gsub("^[^\n]-:%d+: ", ""))))
      end
    end
  end
end

-- Images go in groups of --batch: decoded in parallel, then detected together
-- (RNet and ONet see the crops of the whole group in shared batches).
for first = 1, #todo, args.batch do
  local group, paths = {}, {}
  for k = first, math.min(first + args.batch - 1, #todo) do
    group[#group + 1] = todo[k]
    paths[#paths + 1] = todo[k].path
  end
  local imgs, errs = image.load_many(paths)
  local ok_entries, ok_imgs = {}, {}
  for k, entry in ipairs(group) do
    if imgs[k] then
      ok_entries[#ok_entries + 1] = entry
      ok_imgs[#ok_imgs + 1] = imgs[k]
    else
      failures = failures + 1
      bar:print("detect.lua: skipped: " .. tostring(errs[k]))
    end
  end
  if #ok_imgs > 0 then
    local ok, results = pcall(det.detect_batch, det, ok_imgs)
    local image_ms = ok and det.stats.image_ms
    for k, entry in ipairs(ok_entries) do
      local faces, ms = ok and results[k], ok and image_ms[k]
      if not ok then -- the group failed: one image at a time, to name the one that fails
        local one_ok, one = pcall(det.detect, det, ok_imgs[k])
        if one_ok then faces, ms = one, det.stats.ms
        else
          failures = failures + 1
          bar:print(("detect.lua: %s: %s"):format(entry.path, tostring(one)))
        end
      end
      if faces then
        detected = detected + 1
        emit(entry, ok_imgs[k], faces, ms)
      end
      ok_imgs[k]:free()
      bar:step()
    end
  end
  bar:step(#group - #ok_entries)
end
bar:finish()
if out == io.stdout then
  local ok, err = io.stdout:flush()
  if not ok then die("stdout: " .. tostring(err), EXIT.output) end
elseif out then
  local ok, err = out:close()
  if not ok then die(err, EXIT.output) end
end

local elapsed = sys.clock() - t0
if #todo > 1 or failures > 0 then
  io.stderr:write(("detect.lua: %d images, %d faces, %.1f s (%.1f images/s)%s\n"):format(detected,
    nfaces, elapsed, detected / math.max(elapsed, 1e-9),
    failures > 0 and (", %d input(s) failed"):format(failures) or ""))
end
if unwritten > 0 then
  die(("%d output file(s) could not be written"):format(unwritten), EXIT.output)
end
os.exit(failures > 0 and EXIT.failed or EXIT.ok)

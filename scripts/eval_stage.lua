-- eval_stage.lua: the quality of one stage of the cascade on WIDER FACE val: recall of the
-- annotated faces at the stage's output and candidates per image.
--   mtcnn scripts/eval_stage.lua [--model DIR] [--stages 1|2|3] [options]

local mtcnn = require "mtcnn"
local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"
local data = require "mtcnn.data"
local detector = require "mtcnn.detector"
local progress = require "mtcnn.progress"
local stage = require "mtcnn.eval.stage"

local shared = os.getenv("MTCNN_SHARED") or ((mtcnn.home or ".") .. "/../shared")

local spec = {
  name = "eval_stage.lua",
  usage = "mtcnn scripts/eval_stage.lua [--model DIR] [--stages 1|2|3] [options]",
  description = "Runs the cascade up to a stage (1 = PNet, 2 = RNet, 3 = ONet) on WIDER FACE val images\n" ..
    "and reports the recall of the annotated faces with a side (max of width and height) of at\n" ..
    "least --min-side at the stage's output (a face is recalled when some output box has IoU >=\n" ..
    "--iou with it), the candidates per image and the detection time per image. Images listed\n" ..
    "in the annotations but absent from --images are skipped.",
  options = {
    {name = "model", kind = "string", metavar = "DIR|NAME", help = "model folder, or the name of a folder of models/ (original: the default; ours)"},
    {name = "stages", kind = "string", choices = {"1", "2", "3", "pnet", "rnet", "onet"}, default = "1",
     metavar = "N", help = "the stage whose output is judged"},
    {name = "wider", kind = "string", metavar = "DIR", default = shared .. "/data/wider",
     help = "WIDER FACE folder (holding WIDER_val/images and wider_face_split/)"},
    {name = "gt", kind = "string", metavar = "FILE",
     help = "annotations in the official format (default: WIDER/wider_face_split/wider_face_val_bbx_gt.txt)"},
    {name = "images", kind = "string", metavar = "DIR", help = "image folder (default: WIDER/WIDER_val/images)"},
    {name = "limit", kind = "int", metavar = "N", help = "only the first N images present"},
    {name = "preset", kind = "string", choices = {"original", "seed", "wider"}, default = "original",
     help = "detection settings; the options below override them"},
    {name = "min-face", kind = "number", metavar = "N", help = "smallest face side in pixels (preset: 20)"},
    {name = "factor", kind = "number", metavar = "F", help = "pyramid scale step (preset: 0.709)"},
    {name = "thresholds", kind = "list", metavar = "A[,B[,C]]",
     help = "score thresholds of PNet, RNet, ONet; those not given come from the preset (0.6,0.7,0.7)"},
    {name = "resize", kind = "string", choices = {"area", "bilinear"}, default = "area",
     help = "pyramid and crop resizing"},
    {name = "iou", kind = "number", default = stage.DEFAULTS.iou, help = "overlap that recalls a face"},
    {name = "min-side", kind = "number", default = stage.DEFAULTS.min_side, metavar = "N",
     help = "faces smaller than this (max of width and height, pixels) are not counted"},
    {name = "threads", kind = "int", metavar = "N", help = "threads of the C kernels (default: all CPUs)"},
    {name = "json", kind = "flag", help = "print the summary as one JSON object"},
  },
}
local args = cli.parse(arg, spec)

-- a bad command line: a one-line message and the usage, status 2 (as cli.parse does)
local function usage_error(msg)
  io.stderr:write(("%s: %s\n\n%s"):format(spec.name, msg, cli.help(spec)))
  os.exit(2)
end

local function fail(msg)
  io.stderr:write(spec.name, ": ", msg, "\n")
  os.exit(1)
end

if not (args.iou > 0 and args.iou <= 1) then usage_error("--iou must lie in (0, 1]") end
if args.min_side < 0 then usage_error("--min-side must not be negative") end
if args.limit and args.limit < 1 then usage_error("--limit must be at least 1") end
if args.threads and (args.threads < 1 or args.threads > 64) then usage_error("--threads must lie in 1..64") end
local thresholds
if args.thresholds then
  if #args.thresholds > 3 then usage_error("--thresholds takes at most 3 numbers") end
  thresholds = {}
  for i, v in ipairs(detector.PRESETS[args.preset].thresholds) do thresholds[i] = args.thresholds[i] or v end
end
if args.threads then sys.set_threads(args.threads) end

local gt_file = args.gt or (args.wider .. "/wider_face_split/wider_face_val_bbx_gt.txt")
local images = args.images or (args.wider .. "/WIDER_val/images")
if not sys.stat(images) then fail("no image folder " .. images .. " (see --wider, --images)") end
local entries, stats = data.read_wider(gt_file, {images = images})
if not entries then fail(stats) end
if #entries == 0 then fail(("none of the %d images of %s is under %s"):format(stats.listed, gt_file, images)) end
if args.limit and #entries > args.limit then
  for i = #entries, args.limit + 1, -1 do entries[i] = nil end
end

local det, err = detector.new{
  model = args.model, preset = args.preset, min_face = args.min_face, factor = args.factor,
  thresholds = thresholds, resize = args.resize, stages = tonumber(args.stages) or args.stages,
}
if not det then fail(err) end

local bar = progress.new{total = #entries, label = "eval stage " .. det.stages, unit = "img"}
local t0 = sys.clock()
local r = stage.evaluate(det, entries, {
  iou = args.iou, min_side = args.min_side,
  progress = function(done, _, so_far)
    bar:update(done, so_far.faces > 0 and ("recall %.3f"):format(so_far.recalled / so_far.faces) or nil)
  end,
})
bar:finish()
local elapsed = sys.clock() - t0
for _, e in ipairs(r.errors) do io.stderr:write(spec.name, ": skipped: ", e, "\n") end

local NAMES = {"pnet", "rnet", "onet"}
local s = det:settings()
local per_stage = {}
for i = 1, det.stages do
  local st = r.stages[NAMES[i]]
  per_stage[NAMES[i]] = json.ordered({windows = st.windows, kept = st.kept, ms = st.ms},
    {"windows", "kept", "ms"})
end
local summary = json.ordered({
  model = det.model or detector.default_model(), stages = det.stages, stage = NAMES[det.stages],
  images = r.images, unreadable = r.unreadable, missing = stats.missing, faces = r.faces,
  recalled = r.recalled, recall = r.recall, candidates = r.candidates,
  candidates_per_image = r.candidates_per_image, ms_per_image = r.ms_per_image,
  decode_ms_per_image = r.decode_ms_per_image, seconds = elapsed, threads = sys.threads(),
  iou = args.iou, min_side = args.min_side, annotations = gt_file,
  settings = json.ordered({preset = s.preset, min_face = s.min_face, factor = s.factor,
    thresholds = s.thresholds, nms = s.nms, resize = s.resize}, {"preset", "min_face", "factor",
    "thresholds", "nms", "resize"}),
  per_stage = json.ordered(per_stage, NAMES),
}, {"model", "stages", "stage", "images", "unreadable", "missing", "faces", "recalled", "recall",
    "candidates", "candidates_per_image", "ms_per_image", "decode_ms_per_image", "seconds", "threads",
    "iou", "min_side", "annotations", "settings", "per_stage"})

if args.json then
  print(json.encode(summary))
else
  print(("stage %d (%s) of %s on %d WIDER val images (%s; %d listed images absent)"):format(det.stages,
    NAMES[det.stages], summary.model, r.images, images, stats.missing))
  print(("settings: min face %g, factor %g, thresholds %s, resize %s; %d threads"):format(s.min_face,
    s.factor, table.concat(s.thresholds, ","), s.resize, sys.threads()))
  print(("recall: %.4f (%d of %d faces with a side >= %g px, IoU >= %g)"):format(r.recall, r.recalled,
    r.faces, args.min_side, args.iou))
  print(("candidates per image: %.1f (%d in all)"):format(r.candidates_per_image, r.candidates))
  print(("time per image: %.1f ms detection, %.1f ms decoding"):format(r.ms_per_image, r.decode_ms_per_image))
  for i = 1, det.stages do
    local st = r.stages[NAMES[i]]
    print(("  %s: %.1f windows in, %.1f kept, %.1f ms per image"):format(NAMES[i], st.windows, st.kept, st.ms))
  end
  if r.unreadable > 0 then print(("%d unreadable images skipped"):format(r.unreadable)) end
end

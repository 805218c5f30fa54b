-- eval_landmarks.lua: 5-point landmark error (inter-ocular NME) on a landmark list.
--   mtcnn scripts/eval_landmarks.lua --list FILE --pred JSONL [options]

local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local landmarks = require "mtcnn.eval.landmarks"
local predictions = require "mtcnn.eval.predictions"
local plot = require "mtcnn.eval.plot"
local report = require "mtcnn.eval.report"
local progress = require "mtcnn.progress"

local options = {
  {name = "list", kind = "string", metavar = "FILE", required = true,
   help = "landmark list: 'path left right top bottom x1 y1 ... x5 y5' per line (testImageList format)"},
  {name = "pred", kind = "string", metavar = "JSONL", help = "detections of the list's images, our detect JSON Lines"},
  {name = "model", kind = "string", metavar = "DIR|NAME",
   help = "without --pred: detect with this model folder or bundled model name (models/: original, ours) [default: original]"},
  {name = "preset", kind = "string", choices = {"original", "seed", "wider"}, default = "original",
   help = "detector settings when detecting"},
  {name = "min-face", kind = "number", metavar = "N", range = require("mtcnn.detector").RANGES.min_face, help = "detector minimum face (preset's by default)"},
  {name = "flip-landmarks", kind = "flag", help = "average landmarks with mirrored crops (MATLAB v1)"},
  {name = "root", kind = "string", metavar = "DIR", help = "folder the list's image paths are relative to [default: the list's folder]"},
  {name = "max-nme", kind = "number", default = 0.2, range = "(0, inf)", help = "NME axis of the CED plot"},
}

local args, fail = cli.script(arg, {
  name = "eval_landmarks.lua",
  usage = "mtcnn scripts/eval_landmarks.lua --list FILE [--pred JSONL | --model DIR] [options]",
  description = "Matches each listed face to the detection with the highest IoU (>= 0.4, else a miss)\n"
    .. "and reports the landmark error normalised by the inter-ocular distance: mean and median\n"
    .. "NME, per point, the failure rate (NME > 0.1), the misses, and the cumulative error\n"
    .. "distribution.",
  options = cli.options(options, report.OPTIONS),
})

local entries, err = landmarks.read_list(args.list)
if not entries then fail(err) end
if #entries == 0 then fail(args.list .. ": no entries") end

-- The detector hook: a function detect(image_path) -> faces ({box, score,
-- landmarks} as in our JSON Lines), or nil and the reason.
local function make_detector(a)
  local det, derr = require("mtcnn.detector").new{model = a.model, preset = a.preset,
    min_face = a.min_face, flip_landmarks = a.flip_landmarks}
  if not det then return nil, derr end
  local image = require "mtcnn.image"
  return function(image_path)
    local img, ierr = image.load(image_path)
    if not img then return nil, ierr end
    return det:detect(img)
  end
end

local r
if args.pred then
  local records
  records, err = predictions.read_jsonl(args.pred)
  if not records then fail(err) end
  local preds
  preds, err = landmarks.predictions_from_records(records, args.pred)
  if not preds then fail(err) end
  r, err = landmarks.evaluate(entries, preds)
else
  local detect
  detect, err = make_detector(args)
  if not detect then fail(err) end
  local root = args.root or args.list:match("^(.*)/[^/]*$") or "."
  r, err = landmarks.evaluate_with_detector(entries, root, detect, progress.hook("detect"))
end
if not r then fail(err) end
for _, w in ipairs(r.warnings) do report.warn(w) end
if (r.unreadable or 0) > 0 and not args.root then
  io.stderr:write(("hint: the list's image paths are read from %s (the list's folder); give "
    .. "their folder with --root DIR\n"):format(args.list:match("^(.*)/[^/]*$") or "."))
end
if r.evaluated == 0 then
  fail("no listed image has predictions" .. (args.pred and (" in " .. args.pred) or " (none could be read)"))
end
local label = report.label(args, args.pred or "detector")

local per_point = {}
for _, name in ipairs(landmarks.POINTS) do per_point[name] = r.per_point[name] end
local summary = json.ordered({
  nme = r.nme, median_nme = r.median_nme, failure_rate = r.failure_rate, misses = r.misses,
  matched = r.matched, faces = r.evaluated, entries = r.entries, unpredicted = r.unpredicted,
  miss_rate = r.miss_rate, auc_at_0_1 = r.auc,
  per_point = json.ordered(per_point, landmarks.POINTS), label = label,
}, {"nme", "median_nme", "failure_rate", "misses", "matched", "faces", "entries", "unpredicted",
    "miss_rate", "auc_at_0_1", "per_point", "label"})
local curves = {ced = r.ced}

if not args.json then
  print(("Landmarks on %s: %d faces listed, %d with predictions"):format(args.list, r.entries, r.evaluated))
  print(("matched %d, missed %d (no detection with IoU >= %.1f)"):format(r.matched, r.misses, landmarks.MIN_IOU))
  print(("NME (inter-ocular): mean %.4f, median %.4f; failures (NME > %.1f): %.2f%%; CED area to 0.1: %.4f")
    :format(r.nme, r.median_nme, landmarks.FAILURE, 100 * r.failure_rate, r.auc))
  local parts = {}
  for _, name in ipairs(landmarks.POINTS) do parts[#parts + 1] = ("%s %.4f"):format(name, r.per_point[name]) end
  print("per point: " .. table.concat(parts, ", "))
end

os.exit(report.finish(args, "landmarks", summary, curves, function(runs, path)
  return plot.landmarks(runs, path, args.max_nme)
end, label))

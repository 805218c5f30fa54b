-- eval_wider.lua: WIDER FACE easy / medium / hard AP with the official protocol.
--   mtcnn scripts/eval_wider.lua --pred PRED --gt DIR [--images DIR] [options]

local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local wider = require "mtcnn.eval.wider"
local plot = require "mtcnn.eval.plot"
local report = require "mtcnn.eval.report"

local options = {
  {name = "pred", kind = "string", metavar = "PRED", required = "JSON Lines or a submission folder",
   help = "predictions: our detect JSON Lines, or a folder in the official layout (EVENT/NAME.txt)"},
  {name = "gt", kind = "string", metavar = "DIR", required = "the eval_tools ground_truth folder",
   help = "folder of wider_face_val.mat and wider_{easy,medium,hard}_val.mat (or eval_tools/ above it)"},
  {name = "images", kind = "string", metavar = "DIR",
   help = "evaluate exactly the val images present under DIR (WIDER_val or WIDER_val/images)"},
  {name = "all", kind = "flag", help = "evaluate every val image; an image without predictions counts as none (official)"},
  {name = "iou", kind = "string", choices = {"official", "exact"}, default = "official",
   help = "overlap arithmetic: official (MATLAB int32, as eval_tools) or exact (double)"},
  {name = "false-detections", kind = "flag",
   help = "also count the false detections (exact IoU < 0.5 with every annotated face) by the box's longer side (< 20, 20-40, 40-80, >= 80 px), at every score and at scores >= --min-score"},
  {name = "min-score", kind = "number", default = 0.9, range = "[0, 1]", metavar = "P",
   help = "with --false-detections: the score from which a false detection counts as confident"},
}

local args, fail = cli.script(arg, {
  name = "eval_wider.lua",
  usage = "mtcnn scripts/eval_wider.lua --pred PRED --gt DIR [--images DIR] [options]",
  description = "Computes WIDER FACE val AP (easy, medium, hard) exactly as the official MATLAB\n"
    .. "eval_tools do, from the official ground-truth .mat files. By default only the images\n"
    .. "that have predictions are evaluated (say --all for the whole val set).",
  options = cli.options(options, report.OPTIONS),
})


local gt, err = wider.load_gt(args.gt)
if not gt then fail(err) end
local preds
preds, err = wider.load_predictions(args.pred, gt)
if not preds then fail(err) end

local opts = {iou = args.iou, subset = args.all and "all" or "predicted"}
local subset_text
if args.images then
  local set, n = wider.images_present(args.images, gt)
  if n == 0 then fail(("no val image of the ground truth under %s"):format(args.images)) end
  opts.images = set
  subset_text = ("the %d val images under %s"):format(n, args.images)
elseif args.all then
  subset_text = "every val image (images without predictions count as none)"
else
  subset_text = "the images with predictions (--all for the whole val set)"
end

local r = wider.evaluate(gt, preds, opts)
if r.images == 0 then fail("no ground-truth image has predictions in " .. args.pred) end
local label = report.label(args, args.pred)

local summary = json.ordered({
  easy = r.settings.easy.ap, medium = r.settings.medium.ap, hard = r.settings.hard.ap,
  images = r.images, images_total = r.images_total, subset = r.subset, predicted_images = r.predicted,
  boxes = r.boxes, faces = json.ordered({easy = r.settings.easy.faces, medium = r.settings.medium.faces,
                                         hard = r.settings.hard.faces}, {"easy", "medium", "hard"}),
  iou = r.iou, label = label, unmatched_predictions = r.unmatched_keys,
}, {"easy", "medium", "hard", "images", "images_total", "subset", "predicted_images", "boxes", "faces",
    "iou", "label", "unmatched_predictions"})
local fd
if args.false_detections then
  fd = wider.false_detections(gt, preds, {images = opts.images, subset = opts.subset,
                                          min_score = args.min_score})
  local function bins(c)
    local keys, t = {"below_20", "20_40", "40_80", "80_up", "all"}, {}
    for i = 1, 4 do t[keys[i]] = c[i] end
    t.all = c.all
    return json.ordered(t, keys)
  end
  summary.false_detections = json.ordered({min_score = fd.min_score, scored = bins(fd.scored),
    any_score = bins(fd.any_score), no_overlap = json.ordered(fd.no_overlap, {"scored", "any_score"})},
    {"min_score", "scored", "any_score", "no_overlap"})
end
local curves = {}
for _, s in ipairs(wider.SETTINGS) do
  curves[s] = {precision = r.settings[s].precision, recall = r.settings[s].recall}
end

for _, w in ipairs(r.warnings) do report.warn(w) end
if r.unmatched_keys > 0 then
  report.warn(("%d predicted images are not WIDER val images and were ignored"):format(r.unmatched_keys))
end

if not args.json then
  print(("WIDER FACE val, official protocol (ground truth: %s)"):format(gt.source))
  print(("evaluated %d of %d val images: %s"):format(r.images, r.images_total, subset_text))
  print(("predictions: %d images, %d boxes; overlaps: %s (%s arithmetic)"):format(r.predicted, r.boxes,
    r.iou, r.arith))
  print(("%-8s %7s  %s"):format("setting", "faces", "AP"))
  for _, s in ipairs(wider.SETTINGS) do
    print(("%-8s %7d  %.4f"):format(s, r.settings[s].faces, r.settings[s].ap))
  end
  if fd then
    print("false detections (IoU < 0.5 with every annotated face), by the box's longer side:")
    print(("%-12s %8s %8s %8s %8s %8s %11s"):format("score", "< 20", "20-40", "40-80", ">= 80", "all",
      "touch none"))
    print(("%-12s %8d %8d %8d %8d %8d %11d"):format((">= %g"):format(fd.min_score), fd.scored[1],
      fd.scored[2], fd.scored[3], fd.scored[4], fd.scored.all, fd.no_overlap.scored))
    print(("%-12s %8d %8d %8d %8d %8d %11d"):format("any", fd.any_score[1], fd.any_score[2],
      fd.any_score[3], fd.any_score[4], fd.any_score.all, fd.no_overlap.any_score))
  end
end

os.exit(report.finish(args, "wider", summary, curves, plot.wider, label))

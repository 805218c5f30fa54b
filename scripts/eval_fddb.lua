-- eval_fddb.lua: FDDB discrete and continuous ROC (evaluate.cpp's protocol).
--   mtcnn scripts/eval_fddb.lua --pred FILE --gt FOLDS_DIR [options]

local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local fddb = require "mtcnn.eval.fddb"
local plot = require "mtcnn.eval.plot"
local report = require "mtcnn.eval.report"
local progress = require "mtcnn.progress"
local imagesize = require "mtcnn.eval.imagesize"

local options = {
  {name = "pred", kind = "string", metavar = "FILE", required = true,
   help = "detections: rectangle list (name, count, 'x y w h score' lines) or our detect JSON Lines"},
  {name = "gt", kind = "string", metavar = "DIR", required = "the FDDB-folds folder", help = "FDDB-folds folder (FDDB-fold-XX-ellipseList.txt)"},
  {name = "folds", kind = "list", metavar = "LIST", range = "[1, 10]", help = "folds to use, e.g. 1,2 [default: all present]"},
  {name = "all", kind = "flag", help = "evaluate every image of the folds; one without detections counts as none"},
  {name = "sizes", kind = "string", metavar = "FILE", help = "image sizes, 'NAME WIDTH HEIGHT' per line (regions are clipped to the image)"},
  {name = "images", kind = "string", metavar = "DIR", help = "originalPics folder: image sizes read from DIR/NAME.jpg headers"},
  {name = "max-fp", kind = "int", default = 2000, range = "[1, inf)", help = "false-positive axis of the plot"},
  {name = "roc", kind = "string", metavar = "PREFIX", help = "also write PREFIXDiscROC.txt and PREFIXContROC.txt as evaluate does"},
}

local args, fail = cli.script(arg, {
  name = "eval_fddb.lua",
  usage = "mtcnn scripts/eval_fddb.lua --pred FILE --gt FOLDS_DIR [options]",
  description = "Computes the FDDB discrete and continuous ROC of detection rectangles against the\n"
    .. "ground-truth ellipses (pixel-grid overlaps, one-to-one Hungarian matching), and the\n"
    .. "true-positive rate at 500, 1000 and 2000 false positives. By default only the images\n"
    .. "that have detections are evaluated (say --all for every image of the folds).",
  options = cli.options(options, report.OPTIONS),
})


local folds
if args.folds then
  folds = {}
  for i, v in ipairs(args.folds) do
    if v ~= math.floor(v) then fail("--folds: fold numbers are 1..10, got " .. v, cli.EXIT.usage) end
    folds[i] = math.tointeger(v)
  end
end
local gt, err = fddb.load_gt(args.gt, folds)
if not gt then fail(err) end
local preds
preds, err = fddb.load_predictions(args.pred)
if not preds then fail(err) end

local sizes = {}
if args.sizes then
  sizes, err = fddb.read_sizes(args.sizes)
  if not sizes then fail(err) end
end
if args.images then
  local missing = 0
  for _, im in ipairs(gt.images) do
    if not sizes[im.key] and (preds[im.key] or args.all) then
      local w, h = imagesize.read(("%s/%s.jpg"):format(args.images, im.name))
      if w then sizes[im.key] = {w, h} else missing = missing + 1 end
    end
  end
  if missing > 0 then report.warn(("%d images not found under %s"):format(missing, args.images)) end
end

local r
r, err = fddb.evaluate(gt, preds, {subset = args.all and "all" or "predicted", sizes = sizes,
                                    progress = progress.hook("fddb")})
if not r then fail(err .. " (" .. args.pred .. ")") end
local label = report.label(args, args.pred)

local function at(curve)
  return json.ordered({tpr_at_500 = fddb.tpr_at(curve, 500), tpr_at_1000 = fddb.tpr_at(curve, 1000),
                       tpr_at_2000 = fddb.tpr_at(curve, 2000)}, {"tpr_at_500", "tpr_at_1000", "tpr_at_2000"})
end
local summary = json.ordered({
  discrete = at(r.discrete), continuous = at(r.continuous), images = r.images, images_total = r.images_total,
  subset = r.subset, faces = r.faces, detections = r.detections, max_fp = r.max_fp,
  sized_images = r.clipped, folds = gt.folds, label = label, unmatched_predictions = r.unmatched_keys,
}, {"discrete", "continuous", "images", "images_total", "subset", "faces", "detections", "max_fp",
    "sized_images", "folds", "label", "unmatched_predictions"})
local curves = {discrete = r.discrete, continuous = r.continuous}

for _, w in ipairs(r.warnings) do report.warn(w) end
if r.unmatched_keys > 0 then
  report.warn(("%d predicted images are not in the folds and were ignored"):format(r.unmatched_keys))
end
if args.roc then
  local ok, werr = fddb.write_roc_files(r, args.roc)
  if not ok then fail(werr, cli.EXIT.output) end
end

if not args.json then
  print(("FDDB (folds %s of %s)"):format(table.concat(gt.folds, ","), gt.source))
  print(("evaluated %d of %d images (%s), %d faces, %d detections, %d false positives at the lowest score")
    :format(r.images, r.images_total, args.all and "all" or "those with detections", r.faces,
      r.detections, r.max_fp))
  print(("%-12s %8s %8s %8s"):format("TPR at FP", "500", "1000", "2000"))
  for _, kind in ipairs({"discrete", "continuous"}) do
    local s = summary[kind]
    print(("%-12s %8.4f %8.4f %8.4f"):format(kind, s.tpr_at_500, s.tpr_at_1000, s.tpr_at_2000))
  end
end

os.exit(report.finish(args, "fddb", summary, curves, function(runs, path)
  return plot.fddb(runs, path, args.max_fp)
end, label))

-- mtcnn.train.cli: the command line of scripts/train_pnet.lua, train_rnet.lua and
-- train_onet.lua (each is train_cli.main(stage, arg)).
--
-- Flags: --train FILE|DIR, --val FILE[,FILE...], --out DIR, --previous DIR, --seed, --threads, --device,
-- --resume, --overwrite, --json, --quiet, and every setting of the stage's "train" section
-- (mtcnn.config: --epochs 20, --lr 0.01, ..., --config FILE, --set train.KEY=VALUE).
-- Exit status: 0 done; 1 the run failed (unreadable data); 2 a bad command line (including
-- --device cuda where no CUDA device can be used); 3 an output (a log, a checkpoint, the
-- model) could not be written: the newest checkpoint left is whole and --resume continues.

local cli = require "mtcnn.cli"
local config = require "mtcnn.config"
local json = require "mtcnn.json"
local train = require "mtcnn.train"

local M = {}

local SIZES = {pnet = 12, rnet = 24, onet = 48}

local function usage(stage)
  return ("mtcnn scripts/train_%s.lua --train FILE|DIR --val FILE[,FILE...] --out DIR [options]")
    :format(stage)
end

--- train_cli.spec(stage) -> the cli.parse spec of the stage's script
function M.spec(stage)
  local own = {
    {name = "train", kind = "string", metavar = "FILE|DIR",
     help = "training records: one merged file (shuffled batches) or a merge folder (stratified batches)"},
    {name = "val", kind = "string", metavar = "FILE[,FILE...]",
     help = "held-out records, all used in order each epoch (e.g. detection/val.rec,landmark/val.rec)"},
    {name = "out", kind = "string", metavar = "DIR",
     help = ("the run's folder: %s.mtn, manifest.json, checkpoints/, logs, curves.png"):format(stage)},
    {name = "previous", kind = "string", metavar = "DIR",
     help = "a model folder whose earlier stages join --out's model (e.g. the PNet's for RNet)"},
    {name = "seed", kind = "int", help = "seed of the initial weights and of the batches [default: 1]"},
    {name = "threads", kind = "int", help = "kernel threads [default: all cores; resume: the run's]"},
    {name = "device", kind = "string", choices = {"cpu", "cuda"}, default = "cpu",
     help = "where to train (cuda: the net, its optimiser and each batch on the GPU)"},
    {name = "resume", kind = "flag", help = "continue the run in --out from its newest checkpoint"},
    {name = "overwrite", kind = "flag", help = "start again in an --out that holds a run"},
    {name = "json", kind = "flag", help = "print the summary as one JSON object on stdout"},
    {name = "quiet", kind = "flag", help = "no progress bar"},
  }
  return {
    name = ("train_%s.lua"):format(stage),
    options = cli.options(own, config.options(stage, {"train"})),
    usage = usage(stage),
    description = ("Trains %s (%dx%d inputs) with the multi-task loss, OHEM and SGD of the\n"
      .. "original recipe; every setting below can be changed. Validates each epoch on\n"
      .. "the --val records, checkpoints each epoch, and writes a model folder."):format(
      stage:upper():gsub("NET", "Net"), SIZES[stage], SIZES[stage]),
  }
end

local function fmt(v, f)
  if type(v) ~= "number" or v ~= v then return "n/a" end
  return (f or "%.4f"):format(v)
end

local function clock(seconds)
  seconds = math.floor(seconds + 0.5)
  return ("%d:%02d:%02d"):format(seconds // 3600, seconds // 60 % 60, seconds % 60)
end

--- train_cli.main(stage, argv): runs the stage's script, prints the summary, and exits with a
--- message on a failure (cli.script's fail).
function M.main(stage, argv)
  local spec = M.spec(stage)
  local args, fail = cli.script(argv, spec)
  if args.device == "cuda" and not require("mtcnn").cuda.available() then
    fail("--device cuda: " .. tostring(select(2, require("mtcnn").cuda.device_info())), 2)
  end
  if not args.out then fail("--out is required", 2) end
  if not args.resume and not args.train then fail("--train is required", 2) end
  if not args.resume and not args.val then fail("--val is required", 2) end
  if args.threads and args.threads < 1 then fail("--threads must be at least 1", 2) end

  -- settings; on --resume only those given (flags, --set, or a --config file's changes) count,
  -- the others are the run's own
  local cfg, err = config.resolve(stage, args, {"train"})
  if not cfg then fail(err, 2) end
  local given = {}
  for _, o in ipairs(spec.options) do
    if o.config_key and args[o.config_key] ~= nil then given[o.config_key] = true end
  end
  for _, s in ipairs(args.set or {}) do given[s:match("([%w_]+)%s*=") or ""] = true end
  local defaults = config.defaults(stage).train
  for k, v in pairs(cfg.train) do
    local d = defaults[k]
    if type(v) == "table" then v, d = table.concat(v, ","), table.concat(d, ",") end
    if v ~= d then given[k] = true end
  end
  local val
  if args.val then
    val = {}
    for item in args.val:gmatch("[^,]+") do val[#val + 1] = item end
  end

  local summary, err, kind = train.run{
    stage = stage, cfg = cfg, given = given, train = args.train, val = val, out = args.out,
    seed = args.seed, previous = args.previous,
    threads = args.threads, device = args.device, resume = args.resume,
    overwrite = args.overwrite, progress = not args.quiet and not args.json,
  }
  if not summary then fail(tostring(err), kind == "output" and cli.EXIT.output or cli.EXIT.failed) end
  -- the model is written; a training-curves picture that gnuplot could not write is an output
  -- lost all the same
  local function finish()
    if summary.curves_error then fail(summary.curves_error, cli.EXIT.output) end
  end
  if args.json then
    local s = {}
    for k, v in pairs(summary) do if k ~= "history" then s[k] = v end end
    print(json.encode(s))
    return finish()
  end
  local v, tr = summary.final or {}, summary.final_train or {}
  print(("%s: %d epochs, %d steps of %d samples (%d per epoch), seed %d, %d threads%s"):format(
    stage, summary.epochs, summary.steps, summary.batch, summary.steps_per_epoch, summary.seed,
    summary.threads, summary.resumed_from and (", resumed from " .. summary.resumed_from) or ""))
  print(("  time %s: training %s (%s samples/s; median step %s ms), validation %s"):format(
    clock(summary.seconds.total), clock(summary.seconds.train), fmt(summary.samples_per_s, "%.0f"),
    fmt(summary.step_ms_median, "%.2f"), clock(summary.seconds.validation)))
  print(("  last epoch, training: loss %s, accuracy %s"):format(fmt(tr.loss), fmt(tr.accuracy)))
  print(("  validation (%d samples): loss %s (cls %s, box %s, landmarks %s)"):format(v.samples or 0,
    fmt(v.loss), fmt(v.cls), fmt(v.box), fmt(v.landmarks)))
  print(("    accuracy %s (positives %s, negatives %s), recall at %s %s, negatives passing %s"):format(
    fmt(v.accuracy), fmt(v.accuracy_positive), fmt(v.accuracy_negative), tostring(v.threshold),
    fmt(v.recall), fmt(v.fpr)))
  print(("    box IoU %s (positives %s), landmark error %s of the side (NME %s)"):format(
    fmt(v.box_iou), fmt(v.box_iou_positive), fmt(v.landmark_error), fmt(v.landmark_nme)))
  print(("  wrote %s and %s/manifest.json (a model folder: detect.lua --model %s)"):format(
    summary.model, summary.out, summary.out))
  finish()
end

return M

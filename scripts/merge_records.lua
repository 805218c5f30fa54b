-- merge_records.lua: a net's training set from sample record files (docs/design.md, 'Training
-- sets and sampling ratios'; docs/records.md).
--   mtcnn scripts/merge_records.lua --net pnet --out train_12.rec pos_12.rec part_12.rec ...
--   mtcnn scripts/merge_records.lua --net rnet --out rnet_24/ pos_24.rec part_24.rec ...
-- PNet: base x ratio samples of each class (250,000 positives and part faces, 750,000
-- negatives) and every landmark face, without replacement, shuffled into one file. RNet and
-- ONet: every sample, one shuffled file per class (FOLDER/positive.rec, part.rec,
-- negative.rec, landmark.rec) for stratified batches. A class with fewer samples than asked is
-- taken whole, with a note on stderr (--strict: an error instead). The counts are the
-- stage's "merge" settings (lua/mtcnn/config/), changed by --config, --set or the flags below;
-- what was used is written beside the output (PATH.config.lua, or FOLDER/config.lua).

local cli = require "mtcnn.cli"
local config = require "mtcnn.config"
local json = require "mtcnn.json"
local merge = require "mtcnn.record.merge"

local args, fail = cli.script(arg, {
  name = "merge_records.lua",
  usage = "mtcnn scripts/merge_records.lua --net pnet|rnet|onet --out PATH INPUT... [options]",
  description = "Samples each class of the input record files without replacement and writes a\n"
    .. "net's shuffled training set: one file (PNet) or one file per class (RNet, ONet).\n"
    .. "Inputs may hold one class each or a mix. Outputs appear complete or not at all.",
  rest = {name = "INPUT", help = "sample record files (any labels)", required = true},
  options = {
    {name = "net", kind = "string", choices = {"pnet", "rnet", "onet"}, default = "pnet",
     help = "the net (sample side and defaults)"},
    {name = "out", kind = "string", metavar = "PATH",
     help = "output file (layout single) or folder (per-class)"},
    {name = "layout", kind = "string", choices = {"single", "per-class"},
     help = "one file or one per class [default: single for pnet, per-class otherwise]"},
    {name = "base", kind = "int", help = "samples per unit of ratio [default: 250000]"},
    {name = "ratio", kind = "list", metavar = "P,PT,N",
     help = "positives, part faces, negatives per base [default: 1,1,3 for pnet, all otherwise]"},
    {name = "landmarks", kind = "string", metavar = "all|N",
     help = "landmark faces to take [default: all]"},
    {name = "config", kind = "string", metavar = "FILE",
     help = "a Lua file of settings (its merge section is used; see lua/mtcnn/config/)"},
    {name = "set", kind = "string", metavar = "KEY=VALUE", repeated = true,
     help = "change a merge setting (repeatable), e.g. --set ratio_negative=2"},
    {name = "seed", kind = "int", default = 1, help = "sampling and shuffling seed"},
    {name = "strict", kind = "flag", help = "fail when a class has fewer samples than asked"},
    {name = "no-shuffle", kind = "flag", help = "keep class then file order"},
    {name = "json", kind = "flag", help = "print the report as one JSON object"},
    {name = "quiet", kind = "flag", help = "no progress bar"},
  },
})

if not args.out then fail("--out is required", 2) end
local cfg, cerr = config.resolve(args.net, {config = args.config, set = args.set})
if not cfg then fail(cerr, 2) end
local m = cfg.merge
if args.base then m.base = args.base end
if args.ratio then
  if #args.ratio ~= 3 then fail("--ratio needs three numbers: positives,part,negatives", 2) end
  m.ratio_positive, m.ratio_part, m.ratio_negative = args.ratio[1], args.ratio[2], args.ratio[3]
end
if args.landmarks then
  local n = args.landmarks == "all" and "all" or math.tointeger(tonumber(args.landmarks))
  if not n or (n ~= "all" and n < 0) then fail("--landmarks must be 'all' or a count", 2) end
  m.landmark_count = n
end
-- a class whose ratio is "all" is taken whole; the others are base * ratio
local ratio, counts = {}, {landmark = m.landmark_count}
for cls, v in pairs({positive = m.ratio_positive, part = m.ratio_part, negative = m.ratio_negative}) do
  if v == "all" then counts[cls] = "all" else ratio[cls] = v end
end
local layout = args.layout and (args.layout == "per-class" and "per_class" or "single")

local opts = {
  net = args.net, inputs = args.rest, layout = layout, base = m.base, ratio = ratio,
  counts = counts, seed = args.seed, strict = args.strict, shuffle = not args.no_shuffle,
  progress = not args.quiet and not args.json,
}
local effective_layout = layout or merge.PRESETS[args.net].layout
if effective_layout == "single" then opts.output = args.out else opts.output = args.out:gsub("/$", "") end

local report, err, kind = merge.run(opts)
if not report then fail(err, kind == "output" and cli.EXIT.output or cli.EXIT.failed) end
for _, note in ipairs(report.notes) do io.stderr:write("merge_records.lua: note: ", note, "\n") end
local used = effective_layout == "single" and (args.out .. ".config.lua") or (opts.output .. "/config.lua")
local wrote, werr = config.write({merge = m}, used, args.net, "merge_records.lua: the settings of this merge")
if not wrote then fail(werr, 3) end

if args.json then
  print(json.encode(report))
else
  print(("%s: %dx%d samples, layout %s"):format(report.net, report.size, report.size,
    report.layout:gsub("_", "-")))
  for _, cls in ipairs({"positive", "part", "negative", "landmark"}) do
    print(("  %-9s available %9d  asked %9s  taken %9d"):format(cls, report.available[cls],
      tostring(report.asked[cls]), report.taken[cls]))
  end
  for _, o in ipairs(report.outputs) do
    print(("  wrote %s: %d samples"):format(o.path, o.count))
  end
end

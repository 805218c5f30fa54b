-- mtcnn.eval.report: what the three evaluation scripts share after the
-- numbers are computed: the common options, --save, --compare, --plot and
-- the --json line.
--
--   report.OPTIONS                        option specs for mtcnn.cli (json, save, plot, compare, label)
--   report.finish(args, kind, summary, curves, draw) -> exit status
--       summary: the --json object; curves: what the plot needs;
--       draw(runs, path): one of mtcnn.eval.plot's functions.
--
-- The picture needs gnuplot, an optional tool: when it is absent the reason goes to stderr
-- and the numbers are still printed (status 0). When gnuplot fails or the PNG cannot be
-- written, the numbers are printed too and the status is 3 (an output not written).

local json = require "mtcnn.json"
local results = require "mtcnn.eval.results"

local report = {}

report.OPTIONS = {
  {name = "json", kind = "flag", help = "print one JSON object instead of the summary"},
  {name = "label", kind = "string", help = "name of this run in plots and result files [default: the predictions' file name]"},
  {name = "save", kind = "string", metavar = "FILE", help = "write the result with its curves to FILE (JSON), for --compare"},
  {name = "plot", kind = "string", metavar = "PNG", help = "draw the curves into PNG (needs gnuplot)"},
  {name = "compare", kind = "string", metavar = "FILES", help = "comma-separated result files (--save) to draw with this run"},
}

--- The default label of a run: the predictions' file or folder name.
function report.label(args, pred_path)
  if args.label then return args.label end
  local name = tostring(pred_path or "run"):gsub("/+$", ""):match("([^/]+)$") or "run"
  return (name:gsub("%.jsonl?$", ""):gsub("%.txt$", ""))
end

function report.warn(msg)
  io.stderr:write("warning: ", msg, "\n")
end

--- Saves, plots and prints the JSON line as the options ask. Returns 0; 3 when a file that
--- was asked for could not be written; 1 when a --compare file could not be read.
function report.finish(args, kind, summary, curves, draw, label)
  local status = 0
  if args.save then
    local ok, err = results.save(args.save, kind, label, summary, curves)
    if not ok then
      io.stderr:write("error: ", err, "\n")
      status = 3 -- an output that could not be written (README, 'Command-line tools')
    end
  end
  if args.plot then
    local runs, err = results.load_list(args.compare, kind)
    if not runs then
      io.stderr:write("error: --compare: ", err, "\n")
      status = 1
    else
      table.insert(runs, 1, {label = label, summary = summary, curves = curves})
      local ok, perr, why = draw(runs, args.plot)
      if ok then
        if not args.json then print(("plot: %s (%d run%s)"):format(args.plot, #runs, #runs > 1 and "s" or "")) end
      elseif why == "missing" then
        report.warn("no picture: " .. tostring(perr)) -- gnuplot is optional
      else
        io.stderr:write("error: no picture: ", tostring(perr), "\n")
        status = 3
      end
    end
  elseif args.compare then
    report.warn("--compare has no effect without --plot")
  end
  if args.json then print(json.encode(summary)) end
  return status
end

return report

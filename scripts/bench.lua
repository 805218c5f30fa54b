-- bench.lua: the project's benchmarks. Each mode lives in lua/mtcnn/bench/<mode>.lua.
--   mtcnn scripts/bench.lua tensor [--device cpu|cuda|all] [--reps N] [--json]
--   mtcnn scripts/bench.lua train [--net pnet|rnet|onet|all] [--threads N] [--preset torch]
--                                 [--device cpu|cuda|all] [--json]
--   mtcnn scripts/bench.lua image [--boxes N] [--wider N] [--reps N] [--json]
--   mtcnn scripts/bench.lua detect [--image F] [--min-face N] [--threads N] [--images N]
--                                  [--device cpu|cuda|all] [--json]
--   mtcnn scripts/bench.lua loader [--net pnet|rnet|onet|all] [--workers N] [--train] [--json]
--   mtcnn scripts/bench.lua layers [--threads N] [--set train|detect|all] [--json]
--   mtcnn scripts/bench.lua nets [--threads N] [--json]
-- With --json every measurement is one JSON object on its own line of stdout;
-- otherwise a table is printed. --clock cpu times with the process's CPU time (use it with
-- --threads 1 to compare two builds on a machine that other jobs share).

local cli = require "mtcnn.cli"
local json = require "mtcnn.json"

local MODES = {"tensor", "train", "layers", "nets", "image", "detect", "loader"}

-- the mode's own options join the common ones
local mode_name = arg[1]
local mode
for _, m in ipairs(MODES) do
  if m == mode_name then mode = require("mtcnn.bench." .. m) end
end

local args, fail = cli.script(arg, {
  name = "bench.lua",
  usage = "mtcnn scripts/bench.lua MODE [options]",
  description = "Measures the speed of the project's building blocks.",
  positional = {{name = "mode", choices = MODES, help = "what to measure"}},
  options = cli.options({
    {name = "json", kind = "flag", help = "print one JSON object per measurement"},
    {name = "reps", kind = "int", default = 20, help = "timed repetitions (median reported)"},
    {name = "device", kind = "string", choices = {"cpu", "cuda", "all"}, default = "all",
     help = "where to run"},
    {name = "clock", kind = "string", choices = {"wall", "cpu"}, default = "wall",
     help = "what the timed repetitions read: the monotonic clock, or the process's CPU time (with --threads 1, the work's own time on a machine other jobs share)"},
  }, mode and mode.options or {}),
})

-- the CPU-time clock: every mode times through sys.clock (mtcnn.bench.time and its own reads)
if args.clock == "cpu" then require("mtcnn.sys").clock = os.clock end

local rows = {}
local function report(row)
  if args.json then
    io.write(json.encode(row), "\n")
    io.flush()
  else
    rows[#rows + 1] = row
  end
end

-- a mode that cannot run (no CUDA device, a missing file) says why in one line, no traceback
local ok, err = pcall(mode.run, args, report)
if not ok then fail((tostring(err):gsub("^[^\n]-%.lua:%d+: ", ""))) end

if not args.json then
  if #rows == 0 then return end
  -- nested tables become dotted columns (stages.pnet.ms)
  local function flatten(t, prefix, out)
    for k, v in pairs(t) do
      local key = prefix and (prefix .. "." .. k) or k
      if type(v) == "table" then flatten(v, key, out) else out[key] = v end
    end
    return out
  end
  for i, r in ipairs(rows) do rows[i] = flatten(r, nil, {}) end
  -- every key of every row (modes may report different figures per row)
  local cols, seen = {}, {}
  for _, r in ipairs(rows) do
    for k in pairs(r) do
      if not seen[k] then
        seen[k] = true
        cols[#cols + 1] = k
      end
    end
  end
  table.sort(cols)
  local function cell(v)
    if type(v) == "number" and math.type(v) == "float" then return ("%.3f"):format(v) end
    if v == nil then return "-" end
    return tostring(v)
  end
  print(table.concat(cols, "\t"))
  for _, r in ipairs(rows) do
    local line = {}
    for i, c in ipairs(cols) do line[i] = cell(r[c]) end
    print(table.concat(line, "\t"))
  end
end

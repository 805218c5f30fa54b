-- mtcnn.train.log: the logs of a training run (JSON Lines) and the picture of its curves.
--
--   local log = require "mtcnn.train.log"
--   local steps = assert(log.open(out .. "/log.jsonl", {keep_until = step}))  -- resume: drop later lines
--   steps:write{step = 10, loss = 0.52}      -- one JSON object per line, flushed (checked:
--                                            -- true | nil, message; steps.err keeps the first)
--   steps.entries                            -- every entry of the file, kept for the curves
--   log.curves(out .. "/curves.png", steps.entries, epochs.entries, {title = ...})
--
-- A log file holds one JSON object per line, each with a "step" field. Opening an existing
-- file keeps its lines up to step keep_until (those a resumed run has already done; later
-- ones were written after the checkpoint it resumes from) and rewrites it atomically, so that
-- a resumed run's logs read as an uninterrupted run's.

local json = require "mtcnn.json"
local sys = require "mtcnn.sys"

local log = {}

local Log = {}
Log.__index = Log

local write_atomic = sys.write_atomic -- temporary name, then a rename

--- log.read(path) -> list of entries (an absent file is empty) | nil, message. A last line
--- cut short by a kill is dropped. Only a regular file is read: a log that is a device or a
--- FIFO (a link to /dev/zero would be one endless line) is refused.
function log.read(path)
  local f, err = sys.open(path)
  if not f then
    if not sys.stat(path) then return {} end
    return nil, err
  end
  local entries = {}
  for line in f:lines() do
    if line:match("%S") then
      local e = json.decode(line)
      if type(e) == "table" then entries[#entries + 1] = e end
    end
  end
  f:close()
  return entries
end

--- log.open(path [, {keep_until = step}]) -> log | nil, message. Without keep_until the file
--- starts empty.
function log.open(path, opts)
  opts = opts or {}
  local entries = {}
  if opts.keep_until then
    local old, err = log.read(path)
    if not old then return nil, err end
    for _, e in ipairs(old) do
      if type(e.step) == "number" and e.step <= opts.keep_until then entries[#entries + 1] = e end
    end
  end
  local lines = {}
  for i, e in ipairs(entries) do lines[i] = json.encode(e) .. "\n" end
  local ok, err = write_atomic(path, table.concat(lines))
  if not ok then return nil, err end
  local f
  f, err = sys.output(path, "ab")
  if not f then return nil, err end
  return setmetatable({path = path, file = f, entries = entries}, Log)
end

--- lg:write(entry) -> true | nil, message: appends one line (the entry is kept in
--- lg.entries); a failed write (a full disk) is kept in lg.err, and later writes fail too.
function Log:write(entry)
  self.entries[#self.entries + 1] = entry
  local ok, err = self.file:write(json.encode(entry), "\n")
  if ok then ok, err = self.file:flush() end
  if not ok then self.err = self.err or err end
  return ok, err
end

--- lg:sync() -> true | nil, message: every line so far on the disk (before a checkpoint
--- counts on them), or the first failure
function Log:sync()
  if self.err then return nil, self.err end
  local ok, err = self.file:sync()
  if not ok then self.err = err end
  return ok, err
end

--- lg:close() -> true | nil, message (the data on the disk, or why not)
function Log:close()
  local ok, err = true, nil
  if self.file then
    ok, err = self.file:close()
    self.file = nil
  end
  return ok, err
end

Log.__close = Log.close

local function series(entries, xkey, get)
  local x, y = {}, {}
  for _, e in ipairs(entries) do
    local v = get(e)
    if type(v) == "number" and type(e[xkey]) == "number" then
      x[#x + 1], y[#y + 1] = e[xkey], v
    end
  end
  return x, y
end

local function field(path)
  return function(e)
    local v = e
    for k in path:gmatch("[^%.]+") do
      if type(v) ~= "table" then return nil end
      v = v[k]
    end
    return v
  end
end

--- log.curves(path, steps, epochs [, {title}]) -> true | nil, message, why (plot.draw's
--- "missing" or "failed"): three panels against the epoch (fractional for the per-step log): the
--- training loss (per-step log and epoch means) with the validation loss; the validation
--- accuracies and the recall at the stage threshold; the validation task losses.
function log.curves(path, steps, epochs, opts)
  opts = opts or {}
  -- the loss axis stops above the first epoch's means: the first steps' losses (several
  -- times larger) would flatten the rest
  local top
  local first = epochs[1]
  if first and type(first.train) == "table" and type(first.val) == "table"
      and type(first.train.loss) == "number" and type(first.val.loss) == "number" then
    top = 1.5 * math.max(first.train.loss, first.val.loss)
  end
  -- each panel: title, ylabel, legend place, yrange, and its series {label, log, key}: the
  -- per-step log's entries against their fractional epoch, the epoch log's against the epoch
  local layout = {
    {"loss", "loss", "top right", top and {0, top} or nil, {
      {"training (per-step log)", "steps", "loss"}, {"training (epoch mean)", "epochs", "train.loss"},
      {"validation", "epochs", "val.loss"}}},
    {"validation accuracy", "fraction", "bottom right", nil, {
      {"positives and negatives", "epochs", "val.accuracy"},
      {"positives", "epochs", "val.accuracy_positive"},
      {"negatives", "epochs", "val.accuracy_negative"},
      {"recall at the threshold", "epochs", "val.recall"},
      {"training (pos. and neg.)", "epochs", "train.accuracy"}}},
    {"validation task losses", "loss", "top right", nil, {
      {"classification", "epochs", "val.cls"}, {"box", "epochs", "val.box"},
      {"landmarks", "epochs", "val.landmarks"}}},
  }
  local logs = {steps = {steps, "epoch_f"}, epochs = {epochs, "epoch"}}
  local panels = {}
  for i, p in ipairs(layout) do
    local list = {}
    for k, e in ipairs(p[5]) do
      local x, y = series(logs[e[2]][1], logs[e[2]][2], field(e[3]))
      list[k] = {label = e[1], x = x, y = y}
    end
    panels[i] = {title = p[1], xlabel = "epoch", ylabel = p[2], key = p[3], yrange = p[4],
                 series = list}
  end
  return require("mtcnn.eval.plot").draw({title = opts.title or "training", width = 1500,
    height = 480, panels = panels}, path)
end

return log

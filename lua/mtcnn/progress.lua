-- mtcnn.progress: progress bars for long jobs, drawn on stderr.
--
--   local bar = progress.new{total = 1000, label = "detect", unit = "img"}
--   for i = 1, 1000 do ...; bar:step() end      -- or bar:update(done, "note")
--   bar:finish()
--   evaluate(..., progress.hook("fddb"))        -- a function(done, total) driving a bar
--
-- On a terminal the bar redraws in place at most 10 times a second with the
-- rate and the time left; when stderr is not a terminal (logs, CI) a plain
-- line is written at every tenth of the work instead, or nothing with
-- tty_only = true (for tools whose output must stay clean in logs). total may
-- be nil (unknown): then only the count and the rate are shown. Setting
-- MTCNN_NO_PROGRESS in the environment turns every bar off, as enabled = false.

local sys = require "mtcnn.sys"

local progress = {}
progress.__index = progress

local function clock_string(seconds)
  if seconds ~= seconds or seconds == math.huge then return "--:--" end
  seconds = math.floor(seconds + 0.5)
  local h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s) end
  return ("%d:%02d"):format(m, s)
end

function progress.new(opts)
  opts = opts or {}
  local stream = opts.stream or io.stderr
  local self = setmetatable({
    total = opts.total, label = opts.label or "", unit = opts.unit or "it",
    stream = stream, width = opts.width or 30, done = 0, note = "",
    start = sys.clock(), last_draw = -math.huge, last_tenth = -1,
    tty = opts.tty, enabled = opts.enabled ~= false and os.getenv("MTCNN_NO_PROGRESS") == nil,
  }, progress)
  if self.tty == nil then self.tty = sys.isatty(stream) end
  if opts.tty_only and not self.tty then self.enabled = false end
  return self
end

--- A function(done, total) for the progress hooks of long computations (the evaluators'):
--- the first call makes a bar (opts as progress.new's; unit "img", tty_only by default), each
--- call updates it, and the call with done >= total finishes it.
function progress.hook(label, opts)
  local o = {label = label, unit = "img", tty_only = true}
  for k, v in pairs(opts or {}) do o[k] = v end
  local bar
  return function(done, total)
    if not bar then
      o.total = total
      bar = progress.new(o)
    end
    bar:update(done)
    if done >= total then bar:finish() end
  end
end

function progress:line()
  local elapsed = sys.clock() - self.start
  local rate = elapsed > 0 and self.done / elapsed or 0
  local parts = {self.label}
  if self.total and self.total > 0 then
    local frac = math.min(self.done / self.total, 1)
    local fill = math.floor(frac * self.width + 0.5)
    parts[#parts + 1] = ("%3d%%"):format(math.floor(frac * 100))
    parts[#parts + 1] = "|" .. ("#"):rep(fill) .. ("."):rep(self.width - fill) .. "|"
    parts[#parts + 1] = ("%d/%d"):format(self.done, self.total)
    local left = rate > 0 and (self.total - self.done) / rate or math.huge
    parts[#parts + 1] = ("%.1f %s/s ETA %s"):format(rate, self.unit, clock_string(left))
  else
    parts[#parts + 1] = ("%d %s, %.1f %s/s"):format(self.done, self.unit, rate, self.unit)
  end
  parts[#parts + 1] = ("[%s]"):format(clock_string(elapsed))
  if self.note ~= "" then parts[#parts + 1] = self.note end
  return table.concat(parts, " ")
end

function progress:draw(force)
  if not self.enabled then return end
  local now = sys.clock()
  if self.tty then
    if not force and now - self.last_draw < 0.1 then return end
    self.last_draw = now
    self.stream:write("\r\27[K", self:line())
    self.stream:flush()
  else
    local tenth = self.total and self.total > 0 and math.floor(10 * self.done / self.total) or -1
    if force or tenth > self.last_tenth then
      self.last_tenth = tenth
      self.stream:write(self:line(), "\n")
      self.stream:flush()
    end
  end
end

--- Sets the amount done (and an optional short note) and redraws when due.
function progress:update(done, note)
  self.done = done
  if note then self.note = note end
  self:draw(false)
end

--- Advances by k (default 1).
function progress:step(k, note)
  self:update(self.done + (k or 1), note)
end

--- Prints a message above the bar without breaking it, on the bar's stream or the one given
--- (io.stdout for a tool's results, while the bar stays on stderr).
function progress:print(msg, stream)
  if self.enabled and self.tty then self.stream:write("\r\27[K") end
  stream = stream or self.stream
  stream:write(msg, "\n")
  if stream ~= self.stream then stream:flush() end
  self.last_draw = -math.huge
  self:draw(false)
end

--- Draws the final state and ends the line.
function progress:finish(note)
  if note then self.note = note end
  if not self.enabled then return end
  if self.tty then
    self:draw(true)
    self.stream:write("\n")
    self.stream:flush()
  elseif self.last_tenth < 10 or note then
    self:draw(true)
  end
end

return progress

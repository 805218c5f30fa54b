-- mtcnn.eval.progress: a one-line progress bar on stderr for the evaluators.
--
--   local bar = progress.new("matching", total)   -- draws only when stderr is a terminal
--   bar:update(done)                              -- redraws at most ~10 times a second
--   bar:finish()                                  -- ends the line
--
-- Nothing is written when stderr is not a terminal (logs and pipes stay clean)
-- or when MTCNN_NO_PROGRESS is set.

local sys = require("mtcnn.core").sys

local progress = {}
progress.__index = progress

function progress.new(label, total)
  local enabled = sys.isatty(io.stderr) and os.getenv("MTCNN_NO_PROGRESS") == nil
  return setmetatable({label = label, total = total, enabled = enabled, start = sys.clock(),
                       last = -1, drawn = false}, progress)
end

function progress:update(done)
  if not self.enabled then return end
  local now = sys.clock()
  if done < self.total and now - self.last < 0.1 then return end
  self.last = now
  local frac = self.total > 0 and done / self.total or 1
  local width = 30
  local fill = math.floor(frac * width + 0.5)
  local elapsed = now - self.start
  local eta = frac > 0 and elapsed * (1 - frac) / frac or 0
  io.stderr:write(("\r%s [%s%s] %d/%d %3d%% %.0fs left "):format(self.label, ("#"):rep(fill),
    ("."):rep(width - fill), done, self.total, math.floor(frac * 100 + 0.5), eta))
  self.drawn = true
end

function progress:finish()
  if self.enabled and self.drawn then io.stderr:write("\n") end
end

--- A function(done, total) that drives a new bar, for the evaluators' progress hooks.
function progress.hook(label)
  local bar
  return function(done, total)
    bar = bar or progress.new(label, total)
    bar:update(done)
    if done >= total then bar:finish() end
  end
end

return progress

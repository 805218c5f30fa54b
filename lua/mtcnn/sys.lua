-- mtcnn.sys: clock(), sleep(s), cpu_count(), isatty(file), pid(), threads(), set_threads(n),
-- listdir(path), stat(path), mkdir(path) (creates parents), write_atomic(path, text) and
-- peak_rss_mb().
local core_sys = require("mtcnn.core").sys

local sys = setmetatable({}, {__index = core_sys})

--- sys.write_atomic(path, text) -> true | nil, message: text written to a temporary file
--- beside path and renamed over it, so that path holds either the old or the whole new text.
function sys.write_atomic(path, text)
  local tmp = ("%s.tmp.%d"):format(path, core_sys.pid())
  local f, err = io.open(tmp, "wb")
  if not f then return nil, ("cannot write %s"):format(err) end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    return nil, ("cannot write %s: %s"):format(path, tostring(werr or cerr))
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    return nil, ("cannot rename %s to %s: %s"):format(tmp, path, tostring(rerr))
  end
  return true
end

--- sys.peak_rss_mb() -> the process's peak resident memory in MB (VmHWM of
--- /proc/self/status), or nil where there is no such file.
function sys.peak_rss_mb()
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local kb = text:match("VmHWM:%s*(%d+)%s*kB")
  return kb and tonumber(kb) / 1024 or nil
end

return sys

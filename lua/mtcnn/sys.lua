-- mtcnn.sys: clock(), sleep(s), cpu_count(), isatty(file), pid(), threads(), set_threads(n),
-- listdir(path), stat(path) (with id = "device:inode"), mkdir(path) (creates parents),
-- realpath(path), open(path [, mode]) (reading: regular files only), fsync(file), and, here:
--   write_atomic(path, text)   the whole text or the old file, never a torn one
--   output(path [, mode])      a file written in steps, every failure reported
--   walk(dir)                  the files below a folder, each real folder entered once
--   peak_rss_mb()              the process's peak resident memory
local core_sys = require("mtcnn.core").sys

local sys = setmetatable({}, {__index = core_sys})

--- sys.write_atomic(path, text) -> true | nil, message: text written to a temporary file
--- beside path, flushed to the disk and renamed over it, so that path holds either the old
--- or the whole new text (a full disk gives nil, message and leaves the old file).
function sys.write_atomic(path, text)
  local tmp = ("%s.tmp.%d"):format(path, core_sys.pid())
  -- created anew ("x": O_EXCL, which follows no link): a stale file or a link planted at the
  -- temporary name is neither written through nor renamed into place (a folder there stays,
  -- and the write fails)
  local st = core_sys.stat(tmp)
  if not st or st.type ~= "directory" then os.remove(tmp) end
  local f, err = core_sys.open(tmp, "wbx")
  if not f then return nil, ("cannot write %s"):format(err) end
  local ok, werr = f:write(text)
  if ok then ok, werr = core_sys.fsync(f) end
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

-- An output file written in steps (see sys.output).
local Output = {}
Output.__index = Output

local function output_failed(self, err)
  self.err = self.err or ("cannot write %s: %s"):format(self.path, tostring(err))
  return nil, self.err
end

--- out:write(...) -> true | nil, message (the first failure sticks: later calls repeat it)
function Output:write(...)
  if self.err then return nil, self.err end
  local ok, err = self.f:write(...)
  if not ok then return output_failed(self, err) end
  return true
end

--- out:flush() -> true | nil, message: the buffer handed to the system (a full disk shows)
function Output:flush()
  if self.err then return nil, self.err end
  local ok, err = self.f:flush()
  if not ok then return output_failed(self, err) end
  return true
end

--- out:sync() -> true | nil, message: flushed and on the disk (fsync), the file kept open
function Output:sync()
  if self.err then return nil, self.err end
  local ok, err = core_sys.fsync(self.f)
  if not ok then return output_failed(self, err) end
  return true
end

--- out:close() -> true | nil, message: flushed, on the disk (fsync) and closed
function Output:close()
  if self.closed then return self.err == nil, self.err end
  self.closed = true
  local ok, err = true, nil
  if not self.err then ok, err = core_sys.fsync(self.f) end
  local closed, cerr = self.f:close()
  if not self.err and (not ok or not closed) then output_failed(self, err or cerr) end
  if self.err then return nil, self.err end
  return true
end

--- sys.output(path [, mode = "wb"]) -> out | nil, message: a file written in steps whose
--- every failure is reported (out:write, out:flush, out:sync, out:close; see Output), for outputs
--- written as work goes on (JSON Lines) where write_atomic's all-or-nothing does not fit.
function sys.output(path, mode)
  local f, err = io.open(path, mode or "wb")
  if not f then return nil, ("cannot write %s"):format(err) end
  return setmetatable({f = f, path = path}, Output)
end

--- sys.walk(dir) -> files, skipped: the regular files below dir, each {path = dir/rel,
--- rel = the path below dir}, in sorted order folder by folder. Links are followed, but each
--- real folder (device and inode) is entered once, so a link back to a parent neither loops
--- nor repeats files; devices, FIFOs and sockets are left out. skipped lists {path, why}
--- for what was left out (folders already entered, other files, unreadable folders).
function sys.walk(dir)
  local files, skipped, seen = {}, {}, {}
  local function visit(path, rel)
    local st, err = core_sys.stat(path)
    if not st then
      skipped[#skipped + 1] = {path = path, why = err}
      return
    end
    if st.type == "directory" then
      if seen[st.id] then
        skipped[#skipped + 1] = {path = path, why = "a folder already searched (a link to " ..
          seen[st.id] .. ")"}
        return
      end
      seen[st.id] = path
      local names, lerr = core_sys.listdir(path)
      if not names then
        skipped[#skipped + 1] = {path = path, why = lerr}
        return
      end
      for _, name in ipairs(names) do
        visit(path .. "/" .. name, rel == "" and name or (rel .. "/" .. name))
      end
    elseif st.type == "file" then
      files[#files + 1] = {path = path, rel = rel}
    else
      skipped[#skipped + 1] = {path = path, why = "not a regular file"}
    end
  end
  local root = dir:gsub("(.)/+$", "%1")
  visit(root, "")
  return files, skipped
end

return sys

-- Shared helpers of the specs: paths of the project and of ../shared, a
-- scratch folder, running the host as a subprocess, and numeric checks.
-- Loaded by busted (--helper) and by specs with require "helper".

local helper = {}

-- The project's folder (the specs run from it; MTCNN_HOME can say otherwise).
helper.home = os.getenv("MTCNN_HOME") or "."

-- The host under test: MTCNN_BIN, else build/mtcnn.
helper.bin = os.getenv("MTCNN_BIN") or (helper.home .. "/build/mtcnn")

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end
helper.exists = exists

-- ../shared (read-only test data): MTCNN_SHARED, else next to the project.
helper.shared = os.getenv("MTCNN_SHARED") or (helper.home .. "/../shared")
helper.has_shared = exists(helper.shared .. "/SPEC.md")

-- busted's pending() lives in the environment of the spec files, not in
-- this module's: find it through the calling function's _ENV.
local function pending_here(reason)
  local caller = debug.getinfo(3, "f").func
  for i = 1, math.huge do
    local name, value = debug.getupvalue(caller, i)
    if name == nil then break end
    if name == "_ENV" and type(value) == "table" and value.pending then
      return value.pending(reason)
    end
  end
  return (rawget(_G, "pending") or error)("pending: " .. reason)
end

-- Inside an `it`: marks the test pending (skipped, with the reason shown in
-- busted's summary) and stops it, unless ../shared is present.
function helper.need_shared(what)
  if helper.has_shared then return end
  pending_here(("%s needs ../shared, which is not present (set MTCNN_SHARED to its path)"):format(what))
end

-- Quotes a string for the shell.
function helper.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Runs a shell command; returns its stdout, exit code, and stderr.
function helper.run(cmd)
  local errfile = os.tmpname()
  local p = io.popen(cmd .. " 2>" .. helper.q(errfile), "r")
  local out = p:read("a")
  local _, _, code = p:close()
  local f = io.open(errfile, "rb")
  local err = f and f:read("a") or ""
  if f then f:close() end
  os.remove(errfile)
  return out, code, err
end

-- Runs the host with a string of arguments (already quoted as needed).
function helper.mtcnn(args, env)
  return helper.run((env and (env .. " ") or "") .. helper.q(helper.bin) .. " " .. args)
end

-- Inside an `it`: the record files (train.rec, val.rec) of two generation outputs hold the
-- same samples (the data region byte for byte: pixels, labels, targets, landmarks, boxes,
-- sources and block checksums) and counts.
function helper.same_records(a, b)
  local record = require("mtcnn").record
  local assert = require "luassert"
  for _, side in ipairs({"train", "val"}) do
    local fa = assert(record.open(a .. "/" .. side .. ".rec"))
    local fb = assert(record.open(b .. "/" .. side .. ".rec"))
    assert.are.equal(fa.count, fb.count, side .. " counts")
    assert.are.same(fa:counts(), fb:counts())
    local da, db = helper.read_file(fa.path):sub(4097), helper.read_file(fb.path):sub(4097)
    if da ~= db then
      for i = 1, fa.count do
        local x, y = assert(fa:get(i)), assert(fb:get(i))
        assert.are.same({x.label, x.source, x.target, x.box}, {y.label, y.source, y.target, y.box},
                        side .. " sample " .. i)
      end
      error(side .. ".rec: the samples' bytes differ")
    end
    fa:close()
    fb:close()
  end
end

-- helper.gone(pid) -> true when the process has ended: no /proc entry left, or a zombie (which
-- holds no files, waiting for whoever adopted it to reap it).
function helper.gone(pid)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return true end
  local zombie = f:read("a"):match("State:%s*Z") ~= nil
  f:close()
  return zombie
end

-- Starts `mtcnn script args` in the background and kills it with SIGKILL once the JSON file
-- state (a generation's state.json) says images.done >= after; returns when the process is
-- gone or a zombie (which holds no files, waiting for whoever adopted it). pidfile: a scratch
-- path.
function helper.kill_when_done(script, args, state, after, pidfile)
  local mtcnn = require "mtcnn"
  local sys, json = mtcnn.sys, mtcnn.json
  os.remove(pidfile)
  os.execute(("%s %s %s >/dev/null 2>&1 & echo $! > %s"):format(helper.q(helper.bin), helper.q(script),
    args, helper.q(pidfile)))
  local pid
  local t0 = sys.clock()
  repeat
    local f = io.open(pidfile)
    if f then pid = tonumber(f:read("l")) f:close() end
    local st = pid and json.read_file(state)
    local reached = st and st.images.done >= after
    if not reached then sys.sleep(0.003) end
    assert(sys.clock() - t0 < 60, "the generation never reached " .. after .. " images")
  until reached
  os.execute("kill -9 " .. pid .. " 2>/dev/null")
  while not helper.gone(pid) do sys.sleep(0.005) end
end

-- A fresh scratch folder, removed with helper.rmdir.
function helper.tmpdir()
  local out = helper.run("mktemp -d /tmp/mtcnn-spec.XXXXXX")
  return (out:gsub("%s+$", ""))
end

function helper.rmdir(dir)
  assert(dir:match("^/tmp/mtcnn%-spec"), "refusing to remove " .. dir)
  os.execute("rm -rf " .. helper.q(dir))
end

function helper.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- The bytes of a file: all of them, or n from offset (0-based).
function helper.read_file(path, offset, n)
  local f = assert(io.open(path, "rb"))
  if offset then f:seek("set", offset) end
  local data = f:read(n or "a")
  f:close()
  return data
end

-- Asserts |a - b| <= tol with a readable message.
function helper.near(a, b, tol, what)
  tol = tol or 1e-6
  if not (math.abs(a - b) <= tol) then
    error(("%s: %.9g differs from %.9g by more than %g"):format(what or "value", a, b, tol), 2)
  end
end

-- Asserts that two tensors have the same shape and agree within tol.
function helper.tensor_near(a, b, tol, what)
  local sa, sb = table.concat(a:size(), "x"), table.concat(b:size(), "x")
  if sa ~= sb then error(("%s: shapes %s and %s differ"):format(what or "tensor", sa, sb), 2) end
  local d = a:cpu():max_abs_diff(b:cpu())
  if not (d <= (tol or 1e-6)) then
    error(("%s: max abs difference %.3g exceeds %g"):format(what or "tensor", d, tol or 1e-6), 2)
  end
end

-- Inside an `it`: marks the test pending unless a CUDA device is present.
function helper.need_gpu()
  local cuda = require("mtcnn").cuda
  if cuda.available() then return end
  local _, why = cuda.device_info()
  pending_here("no CUDA device: " .. tostring(why))
end

return helper

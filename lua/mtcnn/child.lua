-- mtcnn.child: running the project's scripts as child processes of the same host (the
-- pipeline's steps, compare_models.lua's evaluations).
--
--   child.quote(s)            s quoted for the shell (bare when it needs no quotes)
--   child.host_binary()       the running host's executable (the children run the same build)
--   child.display(argv)       "mtcnn scripts/NAME args..." as a user would type it
--   child.run(argv, opts) -> true | nil, message, exit status | "signal"
--       argv = {"detect.lua", args...}; opts: bin, scripts (folder of the scripts), threads
--       (MTCNN_THREADS of the child), env (more "NAME=value" words), stdout (a file for the
--       child's stdout; nil: this process's), pid_file (written with the child's pid while it
--       runs, removed after).

local sys = require "mtcnn.sys"

local child = {}

function child.quote(s)
  s = tostring(s)
  if s:match("^[%w%._/:,=%-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
local q = child.quote

-- The executable running this Lua: children run in the same host, so that a sanitizer build's
-- specs test their own build.
function child.host_binary()
  local p = io.popen("readlink /proc/" .. sys.pid() .. "/exe 2>/dev/null")
  local exe = p and p:read("l")
  if p then p:close() end
  if exe and exe ~= "" then return exe end
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or "mtcnn"
end

function child.display(argv)
  local parts = {"mtcnn", "scripts/" .. argv[1]}
  for i = 2, #argv do parts[#parts + 1] = q(argv[i]) end
  return table.concat(parts, " ")
end

function child.run(argv, opts)
  local parts = {q(opts.bin), q(opts.scripts .. "/" .. argv[1])}
  for i = 2, #argv do parts[#parts + 1] = q(argv[i]) end
  local env = ("MTCNN_THREADS=%d"):format(opts.threads)
  if opts.env then env = env .. " " .. opts.env end
  local line = ("%s exec %s"):format(env, table.concat(parts, " "))
  if opts.pid_file then line = ("echo $$ > %s && %s"):format(q(opts.pid_file), line) end
  if opts.stdout then line = line .. " > " .. q(opts.stdout) end
  io.stdout:flush()
  io.stderr:flush()
  local ok, how, code = os.execute(line)
  if opts.pid_file then os.remove(opts.pid_file) end
  if ok then return true end
  if how == "signal" then
    return nil, ("%s was stopped by signal %d"):format(argv[1], code), "signal"
  end
  return nil, ("%s failed (exit status %d)"):format(argv[1], code or -1), code
end

return child

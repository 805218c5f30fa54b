-- The interactive REPL in a real terminal: tmux runs the host and the spec
-- reads the screen. Skips when tmux is not installed.
local helper = require "helper"
local q = helper.q

local function have_tmux()
  local _, code = helper.run("command -v tmux")
  return code == 0
end

describe("the REPL in a terminal", function()
  if not have_tmux() then
    it("needs tmux", function() pending("tmux is not installed") end)
    return
  end

  local dir, socket
  local session = "repl"

  local function tmux(args)
    return helper.run("tmux -L " .. q(socket) .. " " .. args)
  end

  local function screen()
    local s = tmux("capture-pane -p -J -S -200 -t " .. session)
    return (s:gsub("%s+$", ""))
  end

  -- Waits until the screen contains text (a plain string), or fails showing it.
  local function wait_for(text, seconds)
    local deadline = os.time() + (seconds or 10)
    repeat
      local s = screen()
      if s:find(text, 1, true) then return s end
      helper.run("sleep 0.1")
    until os.time() > deadline
    error(("the screen never showed %q; it shows:\n%s"):format(text, screen()), 2)
  end

  local function count(s, text)
    local n, from = 0, 1
    while true do
      local a, b = s:find(text, from, true)
      if not a then return n end
      n, from = n + 1, b + 1
    end
  end

  local function send(keys) tmux("send-keys -t " .. session .. " " .. keys) end
  local function type_line(line) send("-l " .. q(line)) send("Enter") end

  before_each(function()
    dir = helper.tmpdir()
    socket = "mtcnn-spec-" .. dir:match("[^.]+$")
    local bin = helper.run("readlink -f " .. q(helper.bin)):gsub("%s+$", "")
    local cmd = "MTCNN_HISTORY=" .. q(dir .. "/history") .. " " .. q(bin)
    local _, code = tmux("new-session -d -s " .. session .. " -x 150 -y 50 " .. q(cmd))
    assert.are.equal(0, code)
    wait_for("Ctrl-D quits.")
  end)

  after_each(function()
    tmux("kill-server")
    helper.rmdir(dir)
  end)

  it("prints the value of an expression, tensors included", function()
    type_line("T = mtcnn.tensor")
    type_line("T.ones(2, 3) * 7")
    local s = wait_for("[mtcnn.Tensor of size 2x3]")
    assert.matches(" 7  7  7\n 7  7  7\n", s, 1, true)
    type_line("1 + 1, 'two'")
    s = wait_for("two\n")
    assert.matches("\n2%s+two\n", s) -- tabs are shown as spaces
  end)

  it("continues an incomplete line with a second prompt", function()
    type_line("for i = 1, 3 do")
    wait_for("\n>>")
    type_line("  io.write(i * 11, ' ')")
    type_line("end")
    wait_for("11 22 33")
  end)

  it("prints an error with a traceback and keeps going", function()
    type_line("error('deliberate failure')")
    local s = wait_for("stack traceback")
    assert.matches("deliberate failure", s, 1, true)
    type_line("print('still ' .. 'here')")
    wait_for("still here")
  end)

  it("interrupts a running loop with Ctrl-C and keeps the session", function()
    type_line("n = 0; while true do n = n + 1 end")
    helper.run("sleep 0.5")
    send("C-c")
    wait_for("interrupted!")
    type_line("print(n > 0 and 'counted' or 'never ran')")
    wait_for("counted")
  end)

  it("discards the line being typed on Ctrl-C at the prompt", function()
    send("-l " .. q("print('never printed')"))
    send("C-c")
    wait_for("(interrupted: line discarded)")
    type_line("print(6 * 7)")
    local s = wait_for("42")
    assert.are.equal(0, count(s, "\nnever printed"))
  end)

  it("keeps a history across sessions and quits on Ctrl-D", function()
    type_line("print('remember ' .. 'me')")
    wait_for("remember me")
    send("C-d")
    local deadline = os.time() + 10
    while os.time() <= deadline do
      local _, code = tmux("has-session -t " .. session)
      if code ~= 0 then break end
      helper.run("sleep 0.1")
    end
    local _, code = tmux("has-session -t " .. session)
    assert.are_not.equal(0, code) -- the host exited
    local hist = helper.read_file(dir .. "/history")
    assert.matches("print('remember ' .. 'me')", hist, 1, true)
  end)
end)

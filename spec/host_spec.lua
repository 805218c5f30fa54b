-- The mtcnn host behaves like the standalone lua command, plus the
-- project's paths.
local helper = require "helper"
local q = helper.q

describe("the mtcnn host", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  -- the absolute path of the host, for commands run from other folders
  local function abs_bin()
    local out = helper.run("readlink -f " .. q(helper.bin))
    return (out:gsub("%s+$", ""))
  end

  it("prints its version with -v", function()
    local out, code = helper.mtcnn("-v")
    assert.are.equal(0, code)
    assert.matches("^mtcnn %d+%.%d+%.%d+ %-%- Lua 5%.4", out)
  end)

  it("runs -e statements in order and -l libraries", function()
    local out, code = helper.mtcnn([[-e 'x = 20' -e 'print(x + 1)']])
    assert.are.equal(0, code)
    assert.are.equal("21\n", out)
    out = helper.mtcnn([[-l mtcnn -e 'print(type(mtcnn.tensor.zeros))']])
    assert.are.equal("function\n", out)
    out = helper.mtcnn([[-l T=mtcnn.tensor -e 'print(T.ones(3):sum())']])
    assert.are.equal("3.0\n", out)
  end)

  it("passes script arguments in arg and as varargs", function()
    local script = dir .. "/args.lua"
    helper.write_file(script, [[
      print(select("#", ...), ...)
      print(#arg, arg[1], arg[2], arg[0] == ]] .. ("%q"):format(script) .. [[)
    ]])
    local out, code = helper.mtcnn(q(script) .. " a 'b c'")
    assert.are.equal(0, code)
    assert.are.equal("2\ta\tb c\n2\ta\tb c\ttrue\n", out)
  end)

  it("exits with lua's codes and prints the error with a traceback", function()
    local script = dir .. "/boom.lua"
    helper.write_file(script, "local function f() error('boom') end\nf()\n")
    local out, code, err = helper.mtcnn(q(script))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("boom", err)
    assert.matches("stack traceback", err)
    helper.write_file(script, "os.exit(3)")
    _, code = helper.mtcnn(q(script))
    assert.are.equal(3, code)
    helper.write_file(script, "this is not lua")
    _, code, err = helper.mtcnn(q(script))
    assert.are.equal(1, code)
    assert.matches("syntax error", err)
    _, code, err = helper.mtcnn(q(dir .. "/absent.lua"))
    assert.are.equal(1, code)
    assert.matches("cannot open", err)
  end)

  it("reads a script from stdin with - or when stdin is not a terminal", function()
    local out, code = helper.run("echo 'print(6 * 7)' | " .. q(helper.bin) .. " -")
    assert.are.equal(0, code)
    assert.are.equal("42\n", out)
    out = helper.run("echo 'print(...)' | " .. q(helper.bin) .. " - x y")
    assert.are.equal("x\ty\n", out)
    out = helper.run("echo 'print(7)' | " .. q(helper.bin))
    assert.are.equal("7\n", out)
  end)

  it("rejects unknown options with one line and a hint, not the whole help", function()
    local out, code, err = helper.mtcnn("-z")
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("unrecognized option '%-z'", err)
    assert.matches("usage: .* %(.* %-%-help for more%)", err)
    local _, lines = err:gsub("\n", "")
    assert.are.equal(2, lines)
    _, code, err = helper.mtcnn("-e")
    assert.are.equal(1, code)
    assert.matches("'%-e' needs an argument", err)
  end)

  it("answers --help with the options and the commands, and --version", function()
    local out, code = helper.mtcnn("--help")
    assert.are.equal(0, code)
    assert.matches("^usage: ", out)
    for _, name in ipairs({"detect", "bench", "eval_wider", "info", "train_pnet"}) do
      assert.matches("%f[%w_]" .. name .. "%f[^%w_]", out)
    end
    assert.matches("eval wider", out, 1, true)
    assert.matches("--version", out, 1, true)
    local v
    v, code = helper.mtcnn("--version")
    assert.are.equal(0, code)
    assert.matches("^mtcnn %d+%.%d+%.%d+ %-%- Lua 5%.4", v)
  end)

  it("runs scripts as commands: NAME, and NAME WORD for scripts/NAME_WORD.lua", function()
    local bin = abs_bin()
    local function run(args) return helper.run("cd " .. q(dir) .. " && " .. q(bin) .. " " .. args) end
    local out, code = run("detect --help")
    assert.are.equal(0, code)
    assert.matches("usage: mtcnn scripts/detect.lua", out, 1, true)
    out, code = run("eval wider --help")
    assert.are.equal(0, code)
    assert.matches("usage: mtcnn scripts/eval_wider.lua", out, 1, true)
    out, code = run("train pnet --help")
    assert.are.equal(0, code)
    assert.matches("scripts/train_pnet.lua", out, 1, true)
    out, code = run("gen pnet --help") -- the one scripts/gen_pnet_*.lua
    assert.are.equal(0, code)
    assert.matches("scripts/gen_pnet_data.lua", out, 1, true)
    out, code = run("bench detect --help") -- no bench_detect.lua: bench.lua with "detect"
    assert.are.equal(0, code)
    assert.matches("bench", out, 1, true)
    -- the arguments after the words are the script's
    out, code = run("info --json")
    assert.are.equal(0, code)
    assert.matches('"version"', out, 1, true)
    local err
    _, code, err = run("eval")
    assert.are.equal(1, code)
    assert.matches("'eval' needs one of: fddb landmarks stage wider", err, 1, true)
    _, code, err = run("nosuchcommand")
    assert.are.equal(1, code)
    assert.matches("no script or command 'nosuchcommand' %(.*%-%-help lists the commands%)", err)
    -- a file of that name wins over a command
    helper.write_file(dir .. "/detect", "print('the local file')")
    out = run("detect")
    assert.are.equal("the local file\n", out)
  end)

  it("stops a long C call on SIGINT (Ctrl-C) with an error, not at its end", function()
    local flag = dir .. "/started"
    local script = dir .. "/long.lua"
    -- PNet over a batch of big pictures: one C call (about 0.6 s of wall time on the 2-core
    -- development machine, where 6 pictures took 0.3 s, as long as the wait before the signal)
    helper.write_file(script, ([[
      local mtcnn = require "mtcnn"
      local det = assert(mtcnn.detector.new())
      local x = mtcnn.tensor.zeros(10, 3, 1200, 1200)
      local f = assert(io.open(%q, "w")); f:close()
      det.plans.pnet:forward(x)
      print("finished")
    ]]):format(flag))
    local t0 = os.time()
    local out, _, err = helper.run("(" .. q(helper.bin) .. " " .. q(script) .. " & pid=$!; " ..
      "while [ ! -e " .. q(flag) .. " ]; do sleep 0.05; done; sleep 0.05; kill -INT $pid; wait $pid; " ..
      "echo \"exit $?\")")
    assert.matches("exit 1", out, 1, true)
    assert.is_nil(out:find("finished", 1, true))
    assert.matches("plan: interrupted", err, 1, true)
    assert.is_true(os.time() - t0 < 60)
  end)

  it("honours LUA_INIT unless -E is given", function()
    local out = helper.mtcnn([[-e 'print(INIT)']], "LUA_INIT='INIT = 5'")
    assert.are.equal("5\n", out)
    out = helper.mtcnn([[-E -e 'print(INIT)']], "LUA_INIT='INIT = 5'")
    assert.are.equal("nil\n", out)
  end)

  it("finds the project's modules and scripts from any folder", function()
    local bin = abs_bin()
    local out, code = helper.run("cd " .. q(dir) .. " && " .. q(bin) ..
      [[ -e 'print(require("mtcnn").tensor.arange(3):sum())']])
    assert.are.equal(0, code)
    assert.are.equal("3.0\n", out)
    out, code = helper.run("cd " .. q(dir) .. " && " .. q(bin) .. " examples/tensor_basics.lua --out " .. q(dir))
    assert.are.equal(0, code)
    assert.matches("identical = true", out)
    -- scripts/NAME is found by its base name too
    out, code = helper.run("cd " .. q(dir) .. " && " .. q(bin) .. " tensor_basics.lua --help")
    assert.are.equal(1, code) -- not in scripts/, and not here
  end)

  it("runs interactively from a pipe with -i, surviving errors", function()
    local input = "1 + 1\nX = 5\nfor i = 1, 2 do\nX = X + i\nend\nprint(X)\nerror('oops')\n" ..
      "print('after')\nmtcnn.tensor.ones(2)\n"
    local out, code, err = helper.run("printf %s " .. q(input) .. " | " .. q(helper.bin) .. " -i")
    assert.are.equal(0, code)
    assert.matches("\n?> 2\n", out)
    assert.matches("8\n", out)
    assert.matches("oops", err)
    assert.matches("stack traceback", err)
    assert.matches("after\n", out)
    assert.matches("%[mtcnn.Tensor of size 2%]", out)
  end)

  it("works after cmake --install, from the installed share/mtcnn", function()
    local prefix = dir .. "/prefix"
    local _, code = helper.run("cmake --install " .. q(helper.home .. "/build") .. " --prefix " .. q(prefix))
    if code ~= 0 then
      print("SKIP install test: no configured build folder at " .. helper.home .. "/build")
      return
    end
    local out
    out, code = helper.run("cd / && " .. q(prefix .. "/bin/mtcnn") ..
      [[ -e 'local m = require "mtcnn"; print(m.home, m.tensor.ones(2):sum())']])
    assert.are.equal(0, code)
    assert.matches("/prefix/bin/%.%./share/mtcnn\t2.0", out)
    out, code = helper.run("cd / && " .. q(prefix .. "/bin/mtcnn") .. " examples/tensor_basics.lua --out " .. q(dir))
    assert.are.equal(0, code)
    assert.matches("identical = true", out)
  end)
end)

-- Progress bars and the file-system helpers of mtcnn.sys.
local progress = require "mtcnn.progress"
local sys = require("mtcnn").sys
local helper = require "helper"

-- a stream that records what is written
local function recorder()
  local out = {}
  return {write = function(self, ...) for _, s in ipairs({...}) do out[#out + 1] = s end return self end,
          flush = function() end, text = function() return table.concat(out) end}
end

describe("progress bars", function()
  it("write a line per tenth of the work when not on a terminal", function()
    local r = recorder()
    local bar = progress.new{total = 100, label = "job", unit = "img", stream = r, tty = false}
    for _ = 1, 100 do bar:step() end
    bar:finish()
    local lines = {}
    for l in r.text():gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(11, #lines) -- the start, then every tenth
    assert.matches("^job   1%% |%.+| 1/100", lines[1])
    assert.matches("^job  10%% |###", lines[2])
    assert.matches("100/100", lines[11])
  end)

  it("redraw in place on a terminal and end with a newline", function()
    local r = recorder()
    local bar = progress.new{total = 3, label = "t", stream = r, tty = true}
    bar:step()
    bar:step(2)
    bar:finish("ok")
    local text = r.text()
    assert.matches("\r\27%[K", text)
    assert.matches("3/3", text)
    assert.matches("ok\n$", text)
  end)

  it("count without a total", function()
    local r = recorder()
    local bar = progress.new{label = "scan", unit = "file", stream = r, tty = false}
    bar:update(42)
    bar:finish()
    assert.matches("42 file", r.text())
  end)

  it("stay silent off a terminal with tty_only", function()
    local r = recorder()
    local bar = progress.new{total = 10, label = "quiet", stream = r, tty = false, tty_only = true}
    for _ = 1, 10 do bar:step() end
    bar:print("a message still goes through")
    bar:finish("done")
    assert.are.equal("a message still goes through\n", r.text())
  end)

  it("drive a bar from a hook(done, total), finished at the total", function()
    local r = recorder()
    local hook = progress.hook("fddb", {stream = r, tty = true})
    for i = 1, 4 do hook(i, 4) end
    local text = r.text()
    assert.matches("^\r\27%[K", text)
    assert.matches("fddb 100%% |#+| 4/4 [%d.]+ img/s", text)
    assert.matches("\n$", text)
    local quiet = recorder()
    hook = progress.hook("fddb", {stream = quiet, tty = false})
    for i = 1, 4 do hook(i, 4) end
    assert.are.equal("", quiet.text()) -- tty_only by default: logs stay clean
  end)
end)

describe("sys file helpers", function()
  it("list, stat and make folders", function()
    local dir = helper.tmpdir()
    assert.is_true(sys.mkdir(dir .. "/a/b/c"))
    assert.is_true(sys.mkdir(dir .. "/a/b/c")) -- existing is fine
    helper.write_file(dir .. "/a/z.txt", "hello")
    helper.write_file(dir .. "/a/m.txt", "")
    assert.are.same({"b", "m.txt", "z.txt"}, sys.listdir(dir .. "/a"))
    assert.are.equal("directory", sys.stat(dir .. "/a/b").type)
    local st = sys.stat(dir .. "/a/z.txt")
    assert.are.equal("file", st.type)
    assert.are.equal(5, st.size)
    local ok, err = sys.listdir(dir .. "/nope")
    assert.is_nil(ok)
    assert.matches("nope: No such file", err)
    ok, err = sys.mkdir(dir .. "/a/z.txt/x")
    assert.is_nil(ok)
    assert.matches("cannot create folder", err)
    helper.rmdir(dir)
  end)
end)

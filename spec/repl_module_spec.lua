-- mtcnn.repl's functions without a terminal (spec/repl_spec.lua drives the REPL itself through
-- one): completion, the printer, the documentation; and the lazy submodules of require "mtcnn".
local mtcnn = require "mtcnn"
local repl = require "mtcnn.repl"

describe("require 'mtcnn'", function()
  it("lists its submodules with pairs before they are loaded", function()
    local seen = {}
    for k in pairs(mtcnn) do seen[k] = true end
    for _, name in ipairs({"tensor", "detector", "faces", "eval", "repl", "record", "loader"}) do
      assert.is_true(seen[name], name)
    end
    assert.is_true(seen.version and seen.home and seen.strict and seen.global)
  end)
end)

describe("repl.complete", function()
  local env = {mtcnn = mtcnn, print = print, pairs = pairs, t = mtcnn.tensor.ones(2)}

  local function complete(line, start, stop)
    return repl.complete(line, start, stop or #line, env)
  end

  it("completes globals and keywords", function()
    assert.are.same({"print"}, complete("pr", 0))
    assert.are.same({"pairs", "print"}, complete("p", 0))
    assert.are.same({"while"}, complete("x = 1 wh", 6))
  end)

  it("completes the fields of nested tables and submodules not loaded yet", function()
    package.loaded["mtcnn.progress"] = nil
    rawset(mtcnn, "progress", nil)
    assert.are.same({"mtcnn.progress"}, complete("x = mtcnn.prog", 4))
    assert.is_nil(rawget(mtcnn, "progress"), "completion loaded the module")
    assert.are.same({"mtcnn.detector.new"}, complete("mtcnn.detector.ne", 0))
    assert.are.same({}, complete("mtcnn.nothing.here", 0))
  end)

  it("offers only methods after a colon, found through the metatable", function()
    local out = complete("t:vie", 0)
    assert.are.same({"t:view"}, out)
    for _, name in ipairs(complete("t:", 0)) do
      assert.are.equal("function", type(env.t[name:sub(3)]), name)
    end
  end)

  it("leaves a word inside a string to readline's file names", function()
    assert.is_nil(complete("img = mtcnn.image.load('exa", 24))
  end)
end)

describe("repl.format", function()
  it("shows tables as Lua text, limited in depth and length", function()
    assert.are.equal('{"x", a = {b = {c = {... 1 entry}}}, n = 2.5}',
      repl.format({a = {b = {c = {d = 1}}}, "x", n = 2.5}))
    local long = {}
    for i = 1, repl.MAX_ITEMS + 16 do long[i] = i end
    local text = repl.format(long)
    assert.matches("%.%.%. %(16 more%)", text)
    assert.is_nil(text:find("\n  " .. (repl.MAX_ITEMS + 1) .. ",", 1, true))
    local cyc = {}
    cyc.self = cyc
    assert.are.equal("{self = <cycle>}", repl.format(cyc))
  end)

  it("shows faces as their box and score", function()
    local f = {box = {10.04, 20, 30.96, 40}, score = 0.912345678,
               landmarks = {{1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}}}
    assert.are.equal("{[1] = {box = {10.0, 20, 31.0, 40}, score = 0.912346, landmarks = <5 points>}}",
      repl.format({f}))
  end)

  it("shows tensors, strings and numbers as print does", function()
    assert.matches("%[mtcnn.Tensor of size 2x3%]", repl.format(mtcnn.tensor.ones(2, 3)))
    assert.are.equal("abc", repl.format("abc"))
    assert.are.equal("0.5", repl.format(0.5))
  end)
end)

describe("repl.doc", function()
  it("documents modules, Lua functions and C methods from their comments", function()
    local m = repl.doc(mtcnn.detector)
    assert.matches("mtcnn.detector: the MTCNN cascade", m, 1, true)
    assert.matches(":crops(img, opts)", m, 1, true)
    local f = repl.doc(mtcnn.detector.new)
    assert.matches("function detector.new(opts)", f, 1, true)
    assert.are.equal(repl.doc("faces"), repl.doc(mtcnn.faces))
    assert.matches("t:view(sizes...)", repl.doc(mtcnn.tensor.ones(1).view), 1, true)
  end)
end)

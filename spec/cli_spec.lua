-- mtcnn.cli: parsing of the scripts' command lines.
local cli = require("mtcnn").cli

local spec = {
  name = "test",
  usage = "test MODE [options] FILE...",
  no_exit = true,
  positional = {{name = "mode", choices = {"a", "b"}}},
  rest = {name = "FILE"},
  options = {
    {name = "json", kind = "flag"},
    {name = "min-face", kind = "int", default = 20},
    {name = "factor", kind = "number", default = 0.709},
    {name = "resize", kind = "string", choices = {"area", "bilinear"}, default = "area"},
    {name = "thresholds", kind = "list", count = 3, default = {0.6, 0.7, 0.7}},
  },
}

describe("cli", function()
  it("fills defaults and converts values", function()
    local a = assert(cli.parse({"a", "x.jpg", "--min-face", "40", "--factor=0.79", "--json",
                                "--thresholds", "0.5,0.5,0.3", "y.jpg"}, spec))
    assert.are.equal("a", a.mode)
    assert.are.equal(40, a.min_face)
    assert.are.equal(0.79, a.factor)
    assert.is_true(a.json)
    assert.are.equal("area", a.resize)
    assert.are.same({0.5, 0.5, 0.3}, a.thresholds)
    assert.are.same({"x.jpg", "y.jpg"}, a.rest)
    local d = assert(cli.parse({"b"}, spec))
    assert.are.equal(20, d.min_face)
    assert.is_false(d.json)
    assert.are.same({}, d.rest)
  end)

  it("explains bad command lines", function()
    local function err(argv) return select(2, cli.parse(argv, spec)) end
    assert.are.equal("missing argument MODE", err({}))
    assert.are.equal("MODE must be one of a, b, got 'c'", err({"c"}))
    assert.are.equal("unknown option --nope", err({"a", "--nope"}))
    assert.are.equal("--min-face expects an integer, got 'x'", err({"a", "--min-face", "x"}))
    assert.are.equal("--min-face needs a value", err({"a", "--min-face"}))
    assert.are.equal("--resize must be one of area, bilinear, got 'cubic'", err({"a", "--resize=cubic"}))
    assert.are.equal("--thresholds expects 3 numbers, got 2", err({"a", "--thresholds", "1,2"}))
    assert.are.equal("--json takes no value", err({"a", "--json=1"}))
  end)

  it("writes a help text listing every option with its default", function()
    local h = cli.help(spec)
    assert.matches("usage: test MODE", h, 1, true)
    assert.matches("--min%-face INT%s+%[default: 20%]", h)
    assert.matches("--thresholds LIST%s+%[default: 0.6,0.7,0.7%]", h)
    assert.matches("--help", h, 1, true)
  end)
end)

describe("the project's scripts", function()
  local helper = require "helper"
  it("answer --help with exit code 0 and reject bad flags with 2", function()
    for _, script in ipairs({"scripts/bench.lua", "scripts/info.lua"}) do
      local out, code = helper.mtcnn(script .. " --help")
      assert.are.equal(0, code, script)
      assert.matches("^usage: ", out)
      local _, bad, err = helper.mtcnn(script .. " --no-such-flag")
      assert.are.equal(2, bad, script)
      assert.matches("unknown option", err)
      -- the problem and the usage line, not the whole help
      assert.matches("^[%w_.]+: unknown option %-%-no%-such%-flag\nusage: [^\n]*\n%(%-%-help lists every option%)\n$", err)
    end
  end)

  it("say in one line why a run cannot go on, without a traceback", function()
    if require("mtcnn").cuda.available() then
      return pending("a CUDA device is present: bench.lua tensor --device cuda runs")
    end
    local _, code, err = helper.mtcnn("scripts/bench.lua tensor --device cuda --reps 1 --json")
    assert.are.equal(1, code)
    assert.matches("^bench.lua: bench tensor: %-%-device cuda but cuda: [^\n]*\n$", err)
  end)

  it("find scripts/NAME from any folder", function()
    local bin = helper.run("readlink -f " .. helper.q(helper.bin)):gsub("%s+$", "")
    local out, code = helper.run("cd / && " .. helper.q(bin) .. " scripts/info.lua --json")
    assert.are.equal(0, code)
    local info = assert(require("mtcnn.json").decode(out))
    assert.are.equal(require("mtcnn").version, info.version)
    out, code = helper.run("cd / && " .. helper.q(bin) .. " info.lua --json")
    assert.are.equal(0, code)
  end)

  it("bench.lua tensor measures and reports JSON lines", function()
    local out, code = helper.mtcnn("scripts/bench.lua tensor --device cpu --json --reps 2 --numel 4096")
    assert.are.equal(0, code)
    local n = 0
    for line in out:gmatch("[^\n]+") do
      local row = assert(require("mtcnn.json").decode(line))
      assert.are.equal("cpu", row.device)
      assert.is_true(row.ms_median > 0 and row.gb_per_s > 0)
      n = n + 1
    end
    assert.are.equal(7, n)
  end)

  it("bench.lua --clock cpu runs a mode on the CPU-time clock and refuses other clocks", function()
    local out, code = helper.mtcnn("scripts/bench.lua train --net pnet --threads 1 --reps 2 --warmup 0 --batch 16 --clock cpu --json")
    assert.are.equal(0, code)
    local row = assert(require("mtcnn.json").decode(out:match("[^\n]+")))
    assert.is_true(row.step_ms > 0)
    -- the mean of the two timed steps lies between the fastest and the sum of both
    assert.is_true(row.step_ms_mean >= row.step_ms_min and row.step_ms_mean <= 2 * row.step_ms)
    assert.is_true(math.abs(row.samples_per_s_mean * row.step_ms_mean / 1e3 - 16) < 1e-6)
    local _, code2, err = helper.mtcnn("scripts/bench.lua train --clock gpu")
    assert.are.equal(2, code2)
    assert.matches("%-%-clock must be one of wall, cpu", err)
  end)
end)

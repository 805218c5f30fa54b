-- scripts/compare_models.lua: the bundled model beside a copy of itself on a few WIDER val
-- images and landmark faces of ../shared: identical numbers for the copy, the table, the
-- picture, the cache on a second run, and a bad model refused before any work.

local helper = require "helper"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"
local plot = require "mtcnn.eval.plot"

local q = helper.q
local SCRIPT = helper.home .. "/scripts/compare_models.lua"

local function args_for(copy, out, extra)
  return table.concat({q(SCRIPT), "--models", q("original," .. copy),
    "--wider", q(helper.shared .. "/data/wider"), "--landmarks", q(helper.shared .. "/data/landmarks"),
    "--out", q(out), "--wider-images 6 --landmark-faces 20 --bench-reps 2 --threads 2", extra or ""}, " ")
end

describe("compare_models.lua", function()
  local dir

  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  it("answers --help", function()
    local out, code = helper.mtcnn(q(SCRIPT) .. " --help")
    assert.are.equal(0, code)
    assert.truthy(out:find("%-%-models"), out)
    assert.truthy(out:find("%-%-presets"), out)
  end)

  it("refuses an unknown model before any work (exit 2, the bundled models named)", function()
    helper.need_shared("WIDER FACE val")
    local out_dir = dir .. "/out"
    local _, code, err = helper.mtcnn(args_for("no_such_model", out_dir))
    assert.are.equal(2, code, err)
    assert.truthy(err:find("no_such_model", 1, true), err)
    assert.truthy(err:find("bundled: [^\n]*original"), err)
    assert.is_nil(sys.stat(out_dir), "nothing written")
    _, code, err = helper.mtcnn(args_for(helper.home .. "/models/original", out_dir, "--presets original,best"))
    assert.are.equal(2, code, err)
    assert.truthy(err:find("best is not one of", 1, true), err)
    assert.is_nil(sys.stat(out_dir), "nothing written")
    -- a folder of a PNet alone
    os.execute("mkdir -p " .. q(dir .. "/pnet_only"))
    local f = assert(io.open(dir .. "/pnet_only/manifest.json", "wb"))
    f:write('{"name": "p", "format": 1, "nets": {"pnet": "pnet.mtn"}}')
    f:close()
    _, code, err = helper.mtcnn(args_for(dir .. "/pnet_only", out_dir))
    assert.are.equal(2, code, err)
    assert.truthy(err:find("manifest.json names no rnet", 1, true), err)
    assert.is_nil(sys.stat(out_dir), "nothing written")
    -- an output folder that cannot be made: exit 3
    helper.write_file(dir .. "/file", "")
    _, code, err = helper.mtcnn(args_for(helper.home .. "/models/original", dir .. "/file/out"))
    assert.are.equal(3, code, err)
    assert.truthy(err:find("cannot create " .. dir .. "/file/out", 1, true), err)
  end)

  it("puts a model beside its copy: the same numbers, one table, one picture, cached", function()
    helper.need_shared("WIDER FACE val and the landmark list")
    local copy, out_dir = dir .. "/copy", dir .. "/out"
    os.execute("cp -r " .. q(helper.home .. "/models/original") .. " " .. q(copy))

    local out, code, err = helper.mtcnn(args_for(copy, out_dir, "--json --quiet"))
    assert.are.equal(0, code, err)
    local r = assert(json.decode(out))
    assert.are.same({"original", "wider"}, r.presets)
    assert.are.equal(6, r.wider_images)
    assert.are.equal(20, r.landmark_faces)
    assert.are.equal(2, #r.models)
    assert.are.equal("original", r.models[1].label)
    assert.are.equal("mtcnn-original", r.models[2].label) -- a folder: its manifest's name
    assert.are.equal(4, #r.runs)
    local by = {}
    for _, run in ipairs(r.runs) do
      by[run.label .. "/" .. run.preset] = run
      for _, s in ipairs({"easy", "medium", "hard"}) do
        assert.is_true(run.wider[s] >= 0 and run.wider[s] <= 1, s)
      end
      assert.are.equal(6, run.wider.images)
      assert.is_true(run.landmarks.nme > 0 and run.landmarks.nme < 1)
      assert.is_true(run.landmarks.failure_rate >= 0 and run.landmarks.failure_rate <= 1)
      assert.are.equal(20, run.landmarks.entries)
    end
    for _, p in ipairs({"original", "wider"}) do
      local a, b = by["original/" .. p], by["mtcnn-original/" .. p]
      for _, s in ipairs({"easy", "medium", "hard"}) do assert.are.equal(a.wider[s], b.wider[s], p .. " " .. s) end
      assert.are.equal(a.landmarks.nme, b.landmarks.nme)
      assert.are.equal(a.landmarks.misses, b.landmarks.misses)
    end
    -- the paper's WIDER settings find more of the hard faces than the defaults
    assert.is_true(by["original/wider"].wider.hard > by["original/original"].wider.hard)
    for _, m in ipairs(r.models) do
      assert.is_true(m.speed.ms_median > 0)
      assert.are.equal("cpu", m.speed.device)
    end
    if plot.available() then
      assert.are.equal(out_dir .. "/wider_pr.png", r.plot)
      assert.are.equal("\137PNG", helper.read_file(r.plot):sub(1, 4))
    else
      assert.truthy(r.plot_missing)
    end

    -- the same command again: every result from the cache, no child run
    local jsonl = out_dir .. "/original_original_wider.jsonl"
    local before = assert(sys.stat(jsonl))
    out, code, err = helper.mtcnn(args_for(copy, out_dir))
    assert.are.equal(0, code, err)
    assert.is_nil(err:find("$ mtcnn scripts/", 1, true), err)
    assert.truthy(err:find("original (wider), WIDER: done earlier", 1, true), err)
    assert.are.equal(before.mtime, sys.stat(jsonl).mtime)
    assert.truthy(out:find("| model | preset | easy | medium | hard | NME | failure rate | misses | detect ms |", 1, true), out)
    for _, row in ipairs({"| original | original | ", "| original | wider | ", "| mtcnn-original | original | ",
                          "| mtcnn-original | wider | "}) do
      assert.truthy(out:find(row, 1, true), row .. " in\n" .. out)
    end
    local ap = ("%.4f"):format(by["original/original"].wider.easy)
    assert.truthy(out:find("| original | original | " .. ap, 1, true), out)

    -- without gnuplot: no picture, said so, the numbers still there
    out, code, err = helper.mtcnn(args_for(copy, out_dir, "--json"), "MTCNN_GNUPLOT=/nonexistent/gnuplot")
    assert.are.equal(0, code, err)
    assert.truthy(err:find("no picture: gnuplot is not available", 1, true), err)
    local again = assert(json.decode(out))
    assert.are.equal(json.null, again.plot)
    assert.are.equal(by["mtcnn-original/wider"].wider.hard, again.runs[4].wider.hard)

    -- a model whose manifest changed is run again, the other one not
    local f = assert(io.open(copy .. "/manifest.json", "ab"))
    f:write("\n")
    f:close()
    _, code, err = helper.mtcnn(args_for(copy, out_dir, "--presets original"))
    assert.are.equal(0, code, err)
    assert.truthy(err:find("detect.lua --model " .. copy, 1, true), err)
    assert.truthy(err:find("bench.lua detect --model " .. copy, 1, true), err)
    assert.is_nil(err:find("models/original", 1, true), err) -- the bundled one: from the cache
  end)
end)

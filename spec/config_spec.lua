-- mtcnn.config: the per-stage settings, their precedence (defaults < --config < flags <
-- --set), checks with messages that name the source, and the written file read back.
local config = require "mtcnn.config"
local cli = require "mtcnn.cli"
local helper = require "spec.helper"

describe("config", function()
  it("gives each stage its defaults, derived stages changing a few", function()
    local p, r, o = config.defaults("pnet"), config.defaults("rnet"), config.defaults("onet")
    assert.are.equal(12, p.detection.size)
    assert.are.equal(0.3, p.detection.neg_iou)
    assert.are.equal(30, p.train.epochs)
    assert.are.same({6, 14, 20}, p.train.lr_epochs)
    assert.are.equal(0.5, p.train.landmark_weight)
    assert.are.equal(24, r.detection.size)
    assert.are.equal(22, r.train.epochs)
    assert.is_true(r.train.stratified)
    assert.are.equal(48, o.detection.size)
    assert.are.equal(1.0, o.train.landmark_weight)
    assert.are.equal(0.5, o.train.box_weight) -- unchanged from PNet's table
    -- every sampler parameter is a setting (and nothing the sampler does not know is passed):
    -- those of the detection and landmark samples, those of hard examples (section hard) and
    -- those of landmark windows (section landmark_windows)
    local params = config.sample_params(p)
    local mining = config.defaults("rnet")
    mining.hard.hard_face_min_side = 40 -- (passed only where it drops something)
    for _, landmarks in ipairs({false, true}) do
      for k, v in pairs(require("mtcnn.hard").params(mining, landmarks)) do
        if k:match("^win_") then params[k] = v end
      end
    end
    for k in pairs(require("mtcnn.sample").defaults()) do
      assert.is_not_nil(params[k], "the config has no setting for the sampler's " .. k)
    end
    -- fresh tables each time
    p.train.lr_epochs[1] = 99
    assert.are.equal(6, config.defaults("pnet").train.lr_epochs[1])
    assert.has_error(function() config.defaults("xnet") end)
  end)

  it("applies a config file, then flags, then --set", function()
    local dir = helper.tmpdir()
    local file = dir .. "/my.lua"
    local f = assert(io.open(file, "w"))
    f:write("return {train = {epochs = 3, lr = 0.01}, neg_iou = 0.2}\n")
    f:close()
    local spec = {usage = "x", no_exit = true, options = config.options("pnet", {"detection", "train"})}
    local args = assert(cli.parse({"--config", file, "--neg-iou", "0.25", "--set", "train.lr=0.02",
                                   "--set", "lr_epochs=5,10", "--label-by-all-faces", "false"}, spec))
    local cfg = assert(config.resolve("pnet", args, {"detection", "train"}))
    assert.are.equal(3, cfg.train.epochs)          -- file
    assert.are.equal(0.25, cfg.detection.neg_iou)  -- flag over file
    assert.are.equal(0.02, cfg.train.lr)           -- --set over file
    assert.are.same({5, 10}, cfg.train.lr_epochs)
    assert.is_false(cfg.detection.label_by_all_faces)
    assert.are.equal(0.65, cfg.detection.pos_iou)  -- untouched
    -- task weights may exceed 1 (a landmark loss weighed five times the classification)
    cfg = assert(config.resolve("onet", {set = {"landmark_weight=5", "cls_weight=0"}}))
    assert.are.equal(5, cfg.train.landmark_weight)
    assert.are.equal(0, cfg.train.cls_weight)
  end)

  it("rejects unknown settings and bad values, naming the source", function()
    local _, err = config.resolve("pnet", {set = {"epoch=3"}})
    assert.matches("%-%-set epoch=3: unknown setting 'epoch' %(did you mean 'epochs'%?%)", err)
    _, err = config.resolve("pnet", {set = {"train.epochs=2.5"}})
    assert.matches("epochs must be an integer, got 2.5", err)
    _, err = config.resolve("pnet", {neg_iou = "1.5"}, {"detection"})
    assert.matches("%-%-neg%-iou: neg_iou must be a number in %[0, 1%]", err)
    _, err = config.resolve("pnet", {set = {"box_weight=-0.5"}})
    assert.matches("box_weight must be a finite number >= 0, got %-0.5", err)
    _, err = config.resolve("pnet", {set = {"detection.lr=1"}})
    assert.matches("unknown setting 'detection.lr'", err)
    _, err = config.resolve("pnet", {set = {"method=nearest"}})
    assert.matches("method must be one of bilinear, area", err)
    local dir = helper.tmpdir()
    local bad = dir .. "/bad.lua"
    local f = assert(io.open(bad, "w"))
    f:write("return {train = {epohcs = 3}}\n")
    f:close()
    _, err = config.resolve("pnet", {config = bad})
    assert.matches("bad%.lua: unknown setting 'train%.epohcs'", err)
    f = assert(io.open(bad, "w"))
    f:write("os.exit(1)\n") -- a config file sees no globals
    f:close()
    _, err = config.resolve("pnet", {config = bad})
    assert.matches("bad%.lua", err)
  end)

  it("writes the settings as a config file that reads back the same", function()
    local cfg = config.defaults("onet")
    cfg.train.lr = 0.0123
    cfg.merge.landmark_count = 5000
    cfg.detection.method = "area"
    local path = helper.tmpdir() .. "/config.lua"
    assert(config.write(cfg, path, "onet", "written by the spec"))
    local text = assert(io.open(path)):read("a")
    assert.matches("^%-%- written by the spec\nreturn {", text)
    assert.matches("lr = 0.0123, %-%- base learning rate", text)
    assert.are.same(cfg, assert(config.load_file("onet", path)))
  end)
end)

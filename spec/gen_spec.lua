-- Sample generation (mtcnn.gen, scripts/gen_pnet_data.lua, scripts/gen_landmark_data.lua) on a
-- few shared images: class counts, every label against the IoU recomputed from its crop box,
-- the same records whatever the thread count, chunk size or interruptions (a child killed with
-- SIGKILL and resumed), the validation split by source image, skipped images, the command line.

local helper = require "helper"
local mtcnn = require "mtcnn"

local box, data, gen, record, json = mtcnn.box, mtcnn.data, require("mtcnn.gen"),
  mtcnn.record, mtcnn.json
local config = require "mtcnn.config"

local WIDER = helper.shared .. "/data/wider"
local LANDMARKS = helper.shared .. "/data/landmarks"

-- A folder of n WIDER images (links to the shared ones, every `step`-th of the subset), one
-- missing and one undecodable image in the middle of the list, and the annotations in the
-- official format (gt.txt) and the seed's one-line format (list.txt).
local function wider_fixture(dir, n, step)
  local root = helper.run("cd " .. helper.q(WIDER) .. " && pwd"):gsub("%s+$", "") -- for the links
  local set = assert(data.read_wider(root .. "/wider_face_split/wider_face_train_bbx_gt.subset.txt",
                                     {images = root .. "/WIDER_train/images"}))
  os.execute("mkdir -p " .. helper.q(dir .. "/images/bad"))
  helper.write_file(dir .. "/images/bad/broken.jpg", "\255\216\255 this is not a JPEG")
  local official, list, chosen, shell = {}, {}, {}, {}
  for k = 1, n do
    local e = set[1 + (k - 1) * (step or 7)]
    chosen[#chosen + 1] = e
    shell[#shell + 1] = ("mkdir -p %s && ln -s %s %s"):format(helper.q(dir .. "/images/" .. e.name:match("^(.*)/")),
      helper.q(e.path), helper.q(dir .. "/images/" .. e.name))
    official[#official + 1] = e.name
    official[#official + 1] = tostring(#e.faces)
    local row = {e.name}
    for _, f in ipairs(e.faces) do
      official[#official + 1] = ("%d %d %d %d 0 0 0 0 0 0"):format(f.x, f.y, f.w, f.h)
      for c = 1, 4 do row[#row + 1] = ("%d"):format(f[c]) end
    end
    list[#list + 1] = table.concat(row, " ")
    if k == n // 2 then
      for _, extra in ipairs({"gone/missing.jpg", "bad/broken.jpg"}) do
        official[#official + 1] = extra
        official[#official + 1] = "1"
        official[#official + 1] = "10 10 40 40 0 0 0 0 0 0"
        list[#list + 1] = extra .. " 10 10 49 49"
      end
    end
  end
  assert(os.execute(table.concat(shell, " && ")))
  helper.write_file(dir .. "/gt.txt", table.concat(official, "\n") .. "\n")
  helper.write_file(dir .. "/list.txt", table.concat(list, "\r\n") .. "\r\n")
  return chosen
end

local function read_json(path)
  return assert(json.read_file(path))
end

local same_records = helper.same_records

local function run_script(script, args)
  return helper.mtcnn(helper.q(helper.home .. "/scripts/" .. script) .. " " .. args)
end

-- A kill between the commits and the state's replacement, played back: `script` saves `first`
-- images (args(out, extra .. " --chunk 1 --limit first")), commits more up to `second`, and
-- gets its first state back; --resume must then give the records of an uninterrupted run.
local function resume_after_lost_state(script, args, dir, extra, first, second)
  local ref, out = dir .. "/ref", dir .. "/k"
  assert.are.equal(0, select(2, run_script(script, args(ref, extra .. " --chunk 2"))))
  assert.are.equal(0, select(2, run_script(script, args(out, ("%s --chunk 1 --limit %d"):format(extra, first)))))
  local state = helper.read_file(out .. "/state.json")
  assert.are.equal(0, select(2, run_script(script, args(out, ("%s --chunk 1 --limit %d --resume"):format(extra, second)))))
  helper.write_file(out .. "/state.json", state)
  local f = assert(record.open(out .. "/train.rec"))
  assert.is_true(f.count > json.decode(state).committed.train, "nothing to roll back")
  f:close()
  local stdout, code, err = run_script(script, args(out, extra .. " --resume --json"))
  assert.are.equal(0, code, err)
  assert.is_true(json.decode(stdout).resumed)
  same_records(ref, out)
  return out
end

describe("gen_pnet_data", function()
  local dir, chosen
  local cfg = config.defaults("pnet")
  local function args(out, extra)
    return ("--annotations %s --images %s --out %s --seed 7 --quiet %s"):format(
      helper.q(dir .. "/gt.txt"), helper.q(dir .. "/images"), helper.q(out), extra or "")
  end
  setup(function()
    if not helper.has_shared then return end
    dir = helper.tmpdir()
    chosen = wider_fixture(dir, 6)
  end)
  teardown(function() if dir then helper.rmdir(dir) end end)

  it("writes plausible classes, each agreeing with the IoU of its crop box", function()
    helper.need_shared("WIDER FACE")
    local out = dir .. "/a"
    local stdout, code, err = run_script("gen_pnet_data.lua", args(out, "--threads 2 --json"))
    assert.are.equal(0, code, err)
    local s = json.decode(stdout)
    assert.are.same({listed = 8, present = 7, done = 6, train = s.images.train,
                     val = s.images.val, missing = 1, bad = 1}, s.images)
    assert.are.equal("bad/broken.jpg", s.bad_examples[1].name)
    assert.matches("broken%.jpg: .*JPEG", s.bad_examples[1].message)
    assert.are.same({"gone/missing.jpg"}, s.missing_examples)
    assert.are.same(s, read_json(out .. "/summary.json"))
    -- the settings used, as a config file
    local used = assert(config.load_file("pnet", out .. "/config.lua"))
    assert.are.same(cfg.detection, used.detection)

    local faces_of = {}
    for _, e in ipairs(chosen) do faces_of[e.name] = e.faces end
    local total = {positive = 0, negative = 0, part = 0, landmark = 0}
    local sources = {}
    local d = cfg.detection
    for _, side in ipairs({"train", "val"}) do
      local f = assert(record.open(out .. "/" .. side .. ".rec", {size = 12}))
      assert.are.equal(0, f:verify().nbad)
      for name, c in pairs(f:counts()) do total[name] = total[name] + c end
      for _, c in ipairs({"positive", "negative", "part", "landmark"}) do
        assert.are.equal(s.samples[side][c], f:counts()[c])
      end
      for i, smp in f:samples() do
        local faces = assert(faces_of[smp.source], smp.source)
        sources[smp.source] = (sources[smp.source] or 0) + 1
        local o = box.iou(smp.box, faces)
        local best, which = -1, 0
        for k, v in ipairs(o) do if v > best then best, which = v, k end end
        helper.near(smp.iou, best, 1e-6, "stored IoU of sample " .. i)
        if smp.label == 1 then
          assert.is_true(best >= d.pos_iou, "positive " .. i)
        elseif smp.label == -1 then
          assert.is_true(best >= d.part_iou and best < d.pos_iou, "part face " .. i)
        else
          assert.are.equal(0, smp.label)
          assert.is_true(best < d.neg_iou, "negative " .. i)
        end
        if smp.label ~= 0 then
          -- the target calibrates the crop onto the face it was labelled by
          assert.are.equal(which, smp.face)
          local w = smp.box[3] - smp.box[1] + 1
          local g = faces[which]
          for c = 1, 4 do helper.near(smp.box[c] + smp.target[c] * w, g[c], 1e-3, "target") end
        end
      end
      f:close()
    end
    -- 50 random negatives per image, positives and more part faces around the faces
    assert.is_true(total.negative >= 6 * d.neg_count)
    assert.is_true(total.positive > 0 and total.part > total.positive)
    assert.are.equal(0, total.landmark)
    local n = 0
    for _ in pairs(sources) do n = n + 1 end
    assert.are.equal(6, n)
  end)

  it("gives the same records for 1 and 2 threads, any chunk size and either format", function()
    helper.need_shared("WIDER FACE")
    local a, b, c = dir .. "/t1", dir .. "/t2", dir .. "/t3"
    assert.are.equal(0, select(2, run_script("gen_pnet_data.lua", args(a, "--threads 1 --chunk 1"))))
    assert.are.equal(0, select(2, run_script("gen_pnet_data.lua", args(b, "--threads 2 --chunk 3"))))
    same_records(a, b)
    local _, code, err = run_script("gen_pnet_data.lua", ("--annotations %s --images %s --out %s "
      .. "--seed 7 --quiet --threads 2"):format(helper.q(dir .. "/list.txt"), helper.q(dir .. "/images"),
      helper.q(c)))
    assert.are.equal(0, code, err)
    same_records(a, c)
    -- another seed: other samples
    local _, code2 = run_script("gen_pnet_data.lua", args(dir .. "/s8", "--seed 8 --force"):gsub("--seed 7", ""))
    assert.are.equal(0, code2)
    assert.has_error(function() same_records(a, dir .. "/s8") end)
  end)

  it("holds out whole images: no source on both sides", function()
    helper.need_shared("WIDER FACE")
    local out = dir .. "/v"
    local _, code, err = run_script("gen_pnet_data.lua", args(out, "--val-fraction 0.5"))
    assert.are.equal(0, code, err)
    local side_of = {}
    for _, side in ipairs({"train", "val"}) do
      local f = assert(record.open(out .. "/" .. side .. ".rec"))
      assert.is_true(f.count > 0, side .. " is empty")
      for _, smp in f:samples() do
        assert.are_not.equal(side == "train" and "val" or "train", side_of[smp.source], smp.source)
        side_of[smp.source] = side
        -- the split is the documented hash of the name and the seed
        assert.are.equal(side == "val", gen.split_key(smp.source, 7) < 0.5)
      end
    end
  end)

  it("refuses an existing output without --resume or --force, and bad command lines", function()
    helper.need_shared("WIDER FACE")
    local out = dir .. "/r"
    assert.are.equal(0, select(2, run_script("gen_pnet_data.lua", args(out, "--limit 1"))))
    local _, code, err = run_script("gen_pnet_data.lua", args(out))
    assert.are.equal(1, code)
    assert.matches("already holds a generation .* %-%-resume continues it, %-%-force starts over", err)
    -- resuming with other settings is refused, naming the setting
    _, code, err = run_script("gen_pnet_data.lua", args(out, "--resume --neg-iou 0.25"))
    assert.are.equal(1, code)
    assert.matches("other settings %(neg_iou 0%.3, now 0%.25%)", err)
    -- usage errors: exit 2 with the usage
    _, code, err = run_script("gen_pnet_data.lua", "--images x --out y")
    assert.are.equal(2, code)
    assert.matches("^gen_pnet_data%.lua: %-%-annotations is required", err)
    _, code, err = run_script("gen_pnet_data.lua", args(out, "--resume --neg-iou 2"))
    assert.are.equal(2, code)
    assert.matches("neg_iou must be a number in %[0, 1%]", err)
    local text, hcode = run_script("gen_pnet_data.lua", "--help")
    assert.are.equal(0, hcode)
    assert.matches("%-%-pos%-iou VALUE", text)
    -- an unrecognisable annotation file
    helper.write_file(dir .. "/junk.txt", "hello world\nthis is not\n")
    _, code, err = run_script("gen_pnet_data.lua", ("--annotations %s --images %s --out %s"):format(
      helper.q(dir .. "/junk.txt"), helper.q(dir .. "/images"), helper.q(dir .. "/j")))
    assert.are.equal(1, code)
    assert.matches("cannot tell its format", err)
  end)

  it("rolls files committed past the saved state back on --resume", function()
    helper.need_shared("WIDER FACE")
    resume_after_lost_state("gen_pnet_data.lua", args, dir, "", 3, 5)
  end)

  it("resumes after a SIGKILL to the same records as an uninterrupted run", function()
    helper.need_shared("WIDER FACE")
    local kdir = dir .. "/kill"
    wider_fixture(kdir, 24, 3)
    local function kargs(out, extra)
      return ("--annotations %s --images %s --out %s --seed 3 --quiet --threads 1 --chunk 1 "
              .. "--commit-every 0 %s"):format(helper.q(kdir .. "/gt.txt"),
              helper.q(kdir .. "/images"), helper.q(out), extra or "")
    end
    local ref = kdir .. "/ref"
    assert.are.equal(0, select(2, run_script("gen_pnet_data.lua", kargs(ref, "--chunk 16 --commit-every 1"))))
    local out = kdir .. "/out"
    for round, after in ipairs({4, 10}) do
      -- start (or resume) in the background; kill -9 once `after` images are saved
      helper.kill_when_done(helper.home .. "/scripts/gen_pnet_data.lua",
        kargs(out, round > 1 and "--resume" or ""), out .. "/state.json", after, kdir .. "/pid")
      local st = read_json(out .. "/state.json")
      assert.is_false(st.complete, "the run ended before the kill")
    end
    local stdout, code, err = run_script("gen_pnet_data.lua", kargs(out, "--resume --json --chunk 16 --commit-every 1"))
    assert.are.equal(0, code, err)
    local s = json.decode(stdout)
    assert.is_true(s.resumed)
    assert.are.equal(24, s.images.done)
    same_records(ref, out)
  end)
end)

describe("gen_landmark_data", function()
  local dir, names
  setup(function()
    if not helper.has_shared then return end
    dir = helper.tmpdir()
    -- 8 net_7876 faces and two lfw lines whose images are not here, with CRLF line ends
    local lines = {}
    local n = 0
    for line in io.lines(LANDMARKS .. "/trainImageList.txt") do
      local net = line:match("^net_7876")
      if (net and n < 8) or (not net and #lines < 2) then
        lines[#lines + 1] = line:gsub("\r$", "")
        if net then n = n + 1 end
      end
      if n == 8 and #lines >= 10 then break end
    end
    helper.write_file(dir .. "/list.txt", table.concat(lines, "\r\n") .. "\r\n")
    names = {}
    for _, l in ipairs(lines) do names[#names + 1] = l:match("^(%S+)"):gsub("\\", "/") end
  end)
  teardown(function() if dir then helper.rmdir(dir) end end)

  local function args(out, extra)
    return ("--annotations %s --images %s --out %s --quiet %s"):format(helper.q(dir .. "/list.txt"),
      helper.q(LANDMARKS), helper.q(out), extra or "")
  end

  it("writes landmark samples of every present face, the same for any thread count", function()
    helper.need_shared("the landmark set")
    local a, b = dir .. "/a", dir .. "/b"
    local stdout, code, err = run_script("gen_landmark_data.lua", args(a, "--size 24 --threads 1 --json"))
    assert.are.equal(0, code, err)
    local s = json.decode(stdout)
    assert.are.equal(24, s.size)
    assert.are.equal(10, s.images.listed)
    assert.are.equal(2, s.images.missing)
    assert.are.equal(8, s.images.done)
    assert.matches("^lfw_5590/", s.missing_examples[1])
    local used = assert(config.load_file("rnet", a .. "/config.lua"))
    assert.are.same(config.defaults("rnet").landmark, used.landmark)
    _, code, err = run_script("gen_landmark_data.lua", args(b, "--size 24 --threads 2 --chunk 3"))
    assert.are.equal(0, code, err)
    same_records(a, b)
    local d = config.defaults("rnet")
    local n, per_source = 0, {}
    for _, side in ipairs({"train", "val"}) do
      local f = assert(record.open(a .. "/" .. side .. ".rec", {size = 24}))
      for _, smp in f:samples() do
        n = n + 1
        assert.are.equal(-2, smp.label)
        per_source[smp.source] = (per_source[smp.source] or 0) + 1
        for k = 1, 10 do assert.is_true(smp.landmarks[k] > 0 and smp.landmarks[k] < 1) end
        assert.is_true(smp.iou > d.landmark.lmk_iou or smp.iou == 1)
      end
      f:close()
    end
    assert.are.equal(s.samples.train.total + s.samples.val.total, n)
    -- the plain crop (if its face is large enough) and some shifted ones per face
    for _, name in ipairs(names) do
      if name:match("^net") then assert.is_true((per_source[name] or 0) >= 1, name) end
    end
    assert.is_true(n >= 3 * 8)
  end)

  it("resumes after a kill between commits and state, and checks --size", function()
    helper.need_shared("the landmark set")
    local out = resume_after_lost_state("gen_landmark_data.lua", args, dir,
                                        "--size 12 --val-fraction 0.3", 3, 6)
    -- both sides hold samples, no source on both
    local seen = {}
    for _, side in ipairs({"train", "val"}) do
      local f = assert(record.open(out .. "/" .. side .. ".rec"))
      assert.is_true(f.count > 0)
      for _, smp in f:samples() do
        assert.is_true(seen[smp.source] == nil or seen[smp.source] == side)
        seen[smp.source] = side
      end
    end
    _, code, err = run_script("gen_landmark_data.lua", args(dir .. "/z", "--size 16"))
    assert.are.equal(2, code)
    assert.matches("%-%-size must be 12, 24 or 48", err)
  end)
end)

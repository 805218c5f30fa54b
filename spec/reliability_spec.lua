-- Hostile input and faults: each `it` is one row (R1..) of the bad-input matrix of
-- docs/reliability.md and checks what the row says: no crash, no hang, no silent loss, the
-- message and the exit status.
local helper = require "helper"
local F = require "record_fixtures"
local mtcnn = require "mtcnn"

local q = helper.q
local image, record, T = mtcnn.image, mtcnn.record, mtcnn.tensor
local detector = mtcnn.detector
local core = require "mtcnn.core"

local ASTRONAUT = helper.home .. "/examples/astronaut.png"
local MODEL = helper.home .. "/models/original"

-- CRC-32C (Castagnoli, reflected), to write record headers whose checksums are right.
local function crc32c(s)
  local crc = 0xFFFFFFFF
  for i = 1, #s do
    crc = crc ~ s:byte(i)
    for _ = 1, 8 do
      crc = (crc & 1) ~= 0 and ((crc >> 1) ~ 0x82F63B78) or (crc >> 1)
    end
  end
  return (~crc) & 0xFFFFFFFF
end

-- A copy of the bundled model whose NET box-regression (or other HEAD) weights all hold v.
local function damaged_model(dir, net, v, head)
  os.execute(("rm -rf %s && cp -r %s %s"):format(q(dir), q(MODEL), q(dir)))
  local n = assert(mtcnn.models.load(dir .. "/" .. net .. ".mtn"))
  local hit = 0
  for _, e in ipairs(n:named_parameters()) do
    if e.name:match("^" .. (head or "box") .. "%.") then
      e.tensor:fill_(v)
      hit = hit + 1
    end
  end
  assert(hit == 2, "no head " .. tostring(head))
  assert(mtcnn.models.save(n, dir .. "/" .. net .. ".mtn"))
  return dir
end

-- The records of a detect.lua output, and its settings line (checked to come first).
local function lines(path)
  local out = {}
  for l in io.lines(path) do out[#out + 1] = l end
  assert(out[1] and out[1]:match('^{"mtcnn":'), path .. ": the settings line comes first")
  return {table.unpack(out, 2)}, out[1]
end

local function detect(args) return helper.mtcnn("scripts/detect.lua " .. args) end

describe("reliability", function()
  local dir
  before_each(function()
    dir = helper.tmpdir()
    os.execute("mkdir -p " .. q(dir .. "/in/sub"))
    os.execute("cp " .. q(ASTRONAUT) .. " " .. q(dir .. "/in/a.png"))
    os.execute("cp " .. q(ASTRONAUT) .. " " .. q(dir .. "/in/sub/b.png"))
  end)
  after_each(function() helper.rmdir(dir) end)

  describe("values from damaged models", function()
    for _, case in ipairs{{"R1", "pnet", 0 / 0, "NaN"}, {"R2", "rnet", math.huge, "infinite"},
                          {"R3", "onet", 1e30, "huge (1e30)"}} do
      it(case[1] .. ": a " .. case[2] .. " whose box regression is " .. case[4] .. " detects nothing " ..
         "and says so once", function()
        local m = damaged_model(dir .. "/m", case[2], case[3])
        local _, code, err = detect("--quiet --model " .. q(m) .. " --json " .. q(dir .. "/o.jsonl") ..
          " --draw " .. q(dir .. "/d") .. " " .. q(dir .. "/in"))
        assert.are.equal(0, code, err)
        local _, n = err:gsub("dropped %d+ candidate window%(s%) with numbers that are not finite", "")
        assert.are.equal(1, n, err)
        assert.are.equal(2, #lines(dir .. "/o.jsonl"))
      end)
    end

    it("R4: an ONet whose landmark regression is huge: its faces are dropped, drawing and " ..
       "aligning neither hang nor fail", function()
      local m = damaged_model(dir .. "/m", "onet", 1e30, "landmarks")
      local t0 = os.time()
      local _, code, err = detect("--quiet --model " .. q(m) .. " --draw " .. q(dir .. "/d") ..
        " --align " .. q(dir .. "/al") .. " --json " .. q(dir .. "/o.jsonl") .. " " .. q(ASTRONAUT))
      assert.are.equal(0, code, err)
      assert.matches("dropped %d+ candidate window", err)
      assert.are.same({}, mtcnn.json.decode(lines(dir .. "/o.jsonl")[1]).faces)
      assert.is_true(os.time() - t0 < 30)
    end)

    it("R5: an ONet whose landmarks coincide: the face that cannot be aligned is named (status 1)", function()
      local m = damaged_model(dir .. "/m", "onet", 0, "landmarks")
      local _, code, err = detect("--quiet --model " .. q(m) .. " --align " .. q(dir .. "/al") ..
        " --json " .. q(dir .. "/o.jsonl") .. " " .. q(ASTRONAUT))
      assert.are.equal(1, code, err)
      assert.matches("astronaut.png: face 1 cannot be aligned: similarity: the source points coincide",
        err, 1, true)
      assert.are.equal(1, #mtcnn.json.decode(lines(dir .. "/o.jsonl")[1]).faces)
    end)

    it("R6: the candidates API refuses to crop a non-finite or far box and drop_invalid removes it", function()
      local img = image.new(64, 64, {0, 0, 0})
      for _, v in ipairs{0 / 0, math.huge, 1e30, -1e30} do
        local c = core.detect.candidates()
        local prob = T.zeros{1, 2, 2, 2}:fill_(1)
        local reg = T.zeros{1, 4, 2, 2}:fill_(v)
        c:add_pnet(prob, reg, 1.0, 0.5)
        c:calibrate(false)
        local ok, err = pcall(c.crop, c, {img}, 24, "area", T.zeros{#c, 3, 24, 24})
        assert.is_false(ok)
        assert.matches("which cannot be cropped", err)
        assert.are.equal(4, c:drop_invalid({img}))
        assert.are.equal(0, #c)
      end
    end)

    it("R7: drawing at coordinates beyond 2^31 returns at once; NaN is refused", function()
      local img = image.new(32, 32, {0, 0, 0})
      local t0 = os.clock()
      img:draw_rect(-3e9, -3e9, 3e9, 3e9)
      img:draw_point(2 ^ 40, 2 ^ 40, {radius = 3})
      img:draw_box({-1e15, -1e15, 1e15, 1e15, 0.5})
      img:draw_landmarks({{1e12, 1e12}, {-1e12, 5}, {5, 5}, {6, 6}, {7, 7}})
      assert.is_true(os.clock() - t0 < 1)
      assert.has_error(function() img:draw_rect(0 / 0, 0, 3, 3) end,
        "draw_rect: a coordinate is not a number (nan)")
    end)
  end)

  describe("files that are not what they should be", function()
    it("R8: a manifest naming a FIFO or a device as a net file is refused without waiting", function()
      local m = dir .. "/m"
      os.execute(("cp -r %s %s && rm %s && mkfifo %s"):format(q(MODEL), q(m), q(m .. "/pnet.mtn"),
        q(m .. "/pnet.mtn")))
      local det, err = detector.new{model = m}
      assert.is_nil(det)
      assert.matches("pnet.mtn: not a regular file", err, 1, true)
      os.execute(("rm %s && ln -s /dev/zero %s"):format(q(m .. "/pnet.mtn"), q(m .. "/pnet.mtn")))
      det, err = detector.new{model = m}
      assert.is_nil(det)
      assert.matches("pnet.mtn: not a regular file", err, 1, true)
    end)

    it("R9: a folder, a FIFO or a device given as a tensor, model, record, MAT or image file is an error", function()
      os.execute("mkfifo " .. q(dir .. "/fifo"))
      for _, p in ipairs{dir, dir .. "/fifo", "/dev/null"} do
        local _, e1 = T.load(p)
        local _, e2 = mtcnn.models.load(p)
        local _, e3 = record.open(p)
        local _, e4 = require("mtcnn.eval.mat").read(p)
        local _, e5 = image.load(p)
        for _, e in ipairs{e1, e2, e3, e4, e5} do
          assert.matches("not a regular file", e, 1, true)
        end
      end
    end)

    it("R10: a FIFO among the inputs or as a list file is named and skipped (status 1)", function()
      os.execute("mkfifo " .. q(dir .. "/in/pipe.png") .. " " .. q(dir .. "/list.txt"))
      local _, code, err = detect("--quiet --json " .. q(dir .. "/o.jsonl") .. " " .. q(dir .. "/in") ..
        " " .. q(dir .. "/list.txt"))
      assert.are.equal(1, code, err)
      assert.matches("pipe.png: not a regular file", err, 1, true)
      assert.matches("list.txt: not a regular file", err, 1, true)
      assert.are.equal(2, #lines(dir .. "/o.jsonl"))
    end)

    it("R11: a symlink loop and a link to a parent folder neither hang nor repeat images", function()
      os.execute(("ln -s . %s && ln -s .. %s"):format(q(dir .. "/in/sub/self"), q(dir .. "/in/sub/up")))
      local _, code, err = detect("--quiet --json " .. q(dir .. "/o.jsonl") .. " " .. q(dir .. "/in"))
      assert.are.equal(0, code, err)
      local seen = {}
      for _, l in ipairs(lines(dir .. "/o.jsonl")) do
        local r = mtcnn.json.decode(l)
        seen[#seen + 1] = r.image
      end
      assert.are.equal(2, #seen)
    end)

    it("R12: a file that is not an image is named and skipped; when every input fails the status is 1", function()
      helper.write_file(dir .. "/in/bad.jpg", "not a jpeg")
      local _, code, err = detect("--quiet --json " .. q(dir .. "/o.jsonl") .. " " .. q(dir .. "/in/bad.jpg"))
      assert.are.equal(1, code)
      assert.matches("bad.jpg", err, 1, true)
      _, code, err = detect("--quiet " .. q(dir .. "/nothing.png"))
      assert.are.equal(1, code)
      assert.matches("nothing.png: No such file or directory", err, 1, true)
    end)
  end)

  describe("outputs that cannot be written", function()
    it("R13: --json onto a full disk ends with status 3 and no claim that the images were done", function()
      local _, code, err = detect("--quiet --json /dev/full " .. q(dir .. "/in"))
      assert.are.equal(3, code, err)
      assert.matches("cannot write /dev/full", err, 1, true)
      assert.is_nil(err:find("2 images"))
    end)

    it("R14: a picture that cannot be written is named, the run goes on, the status is 3", function()
      os.execute("mkdir -p " .. q(dir .. "/d/a_det.png"))
      local _, code, err = detect("--quiet --draw " .. q(dir .. "/d") .. " --json " .. q(dir .. "/o.jsonl") ..
        " " .. q(dir .. "/in"))
      assert.are.equal(3, code, err)
      assert.matches("a_det.png", err, 1, true)
      assert.matches("1 output file(s) could not be written", err, 1, true)
      assert.is_true(helper.exists(dir .. "/d/sub__b_det.png"))
      assert.are.equal(2, #lines(dir .. "/o.jsonl"))
    end)

    it("R15: an output folder that cannot be created ends the run before any work (status 3)", function()
      helper.write_file(dir .. "/file", "")
      local _, code, err = detect("--quiet --align " .. q(dir .. "/file/x") .. " " .. q(ASTRONAUT))
      assert.are.equal(3, code, err)
    end)

    it("R16: write_atomic onto a full disk returns the error and leaves the old file", function()
      local ok, err = mtcnn.sys.write_atomic("/dev/full/x", "text")
      assert.is_nil(ok)
      assert.is_string(err)
      local out = assert(mtcnn.sys.output("/dev/full"))
      local w, werr = out:write(("x"):rep(1 << 16))
      if w then w, werr = out:flush() end
      if w then w, werr = out:close() else out:close() end
      assert.is_nil(w)
      assert.matches("cannot write /dev/full", werr, 1, true)
      -- the old file stays when the new text cannot be written (here: its temporary file)
      local path = dir .. "/keep.txt"
      helper.write_file(path, "old")
      os.execute("mkdir " .. q(("%s.tmp.%d"):format(path, mtcnn.sys.pid())))
      ok, err = mtcnn.sys.write_atomic(path, "new")
      assert.is_nil(ok)
      assert.matches("keep.txt", err, 1, true)
      assert.are.equal("old", helper.read_file(path))
    end)
  end)

  describe("resuming", function()
    it("R17: --resume keeps every intact record after a damaged line in the middle", function()
      os.execute("cp " .. q(ASTRONAUT) .. " " .. q(dir .. "/in/c.png"))
      local out = dir .. "/o.jsonl"
      local _, code = detect("--quiet --json " .. q(out) .. " " .. q(dir .. "/in"))
      assert.are.equal(0, code)
      local l, settings = lines(out)
      assert.are.equal(3, #l)
      helper.write_file(out, settings .. "\n" .. l[1] .. "\n" .. l[2]:sub(1, 20) .. "#garbage\n" .. l[3] .. "\n")
      local _, code2, err = detect("--quiet --resume --json " .. q(out) .. " " .. q(dir .. "/in"))
      assert.are.equal(0, code2, err)
      assert.matches("dropped 1 damaged line(s)", err, 1, true)
      assert.matches("resuming: 2 images already", err, 1, true)
      local after, images = lines(out), {}
      assert.are.equal(3, #after)
      for _, r in ipairs(after) do images[mtcnn.json.decode(r).image] = true end
      assert.is_true(images[dir .. "/in/a.png"] and images[dir .. "/in/c.png"] and
        images[dir .. "/in/sub/b.png"])
    end)

    it("R18: --resume with another spelling of the same folder processes nothing again", function()
      local out = dir .. "/o.jsonl"
      assert.are.equal(0, select(2, detect("--quiet --json " .. q(out) .. " " .. q(dir .. "/in"))))
      os.execute("ln -s in " .. q(dir .. "/link"))
      for _, spelling in ipairs{dir .. "/in/", dir .. "//in/./", dir .. "/link", dir .. "/in/sub/../"} do
        local _, code, err = detect("--quiet --resume --json " .. q(out) .. " " .. q(spelling))
        assert.are.equal(0, code, err)
        assert.matches("resuming: 2 images already", err, 1, true)
        assert.are.equal(2, #lines(out), spelling)
      end
    end)
  end)

  describe("command lines", function()
    local function usage_error(args, pattern)
      local t0 = os.time()
      local _, code, err = detect(args .. " --json " .. q(dir .. "/o.jsonl") .. " " .. q(dir .. "/in"))
      assert.are.equal(2, code, err)
      assert.matches(pattern, err, 1, true)
      assert.matches("\nusage: ", err, 1, true)
      assert.is_nil(err:find("traceback"))
      -- validated before any work: no output file
      assert.is_false(helper.exists(dir .. "/o.jsonl"))
      assert.is_true(os.time() - t0 < 10)
    end

    it("R19: --min-face 0 is a usage error (status 2)", function()
      usage_error("--min-face 0", "--min-face must lie in [1, inf), got 0")
    end)
    it("R20: --factor 1 and --factor 0.999999 are usage errors (a pyramid of millions of levels)", function()
      usage_error("--factor 1", "--factor must lie in (0, 0.95], got 1")
      usage_error("--factor 0.999999", "--factor must lie in (0, 0.95], got 0.999999")
    end)
    it("R21: --align-size 0 is a usage error", function()
      usage_error("--align DIR --align-size 0", "--align-size must lie in [1, 4096], got 0")
    end)
    it("R22: a threshold above 1 is a usage error", function()
      usage_error("--thresholds 0.6,0.7,1.5", "--thresholds: each number must lie in [0, 1], got 1.5")
    end)
    it("R23: nan and inf are not numbers of a command line", function()
      usage_error("--min-face nan", "--min-face expects a number, got 'nan'")
      usage_error("--factor inf", "--factor expects a number, got 'inf'")
    end)
    it("R24: --threads 0, --batch 0 and an unknown option are usage errors", function()
      usage_error("--threads 0", "--threads must lie in [1, 64], got 0")
      usage_error("--batch 0", "--batch must lie in [1, 4096], got 0")
      usage_error("--colour red", "unknown option --colour")
    end)
  end)

  describe("the Lua API", function()
    it("R25: detector.new refuses out-of-range options, naming the function and the value", function()
      assert.has_error(function() detector.new{factor = 0.999999} end,
        "detector.new: factor must lie in (0, 0.95], got 0.999999")
      assert.has_error(function() detector.new{min_face = 0} end,
        "detector.new: min_face must lie in [1, inf), got 0")
      assert.has_error(function() detector.new{thresholds = {0.6, 0.7, 1.5}} end,
        "detector.new: thresholds[3] must lie in [0, 1], got 1.5")
      assert.has_error(function() detector.new{batch = 0} end,
        "detector.new: batch must lie in [1, inf), got 0")
    end)

    it("R26: det:detect(nil) and a list holding a non-image raise, naming the call", function()
      local det = assert(detector.new())
      local inputs = "an mtcnn.Image, an image path, a [3,H,W] tensor (img:to_tensor()) or RGB bytes " ..
        "with a width and height"
      assert.has_error(function() det:detect(nil) end, "detector:detect: expected " .. inputs .. "; got nil")
      assert.has_error(function() det:detect_batch({1}) end,
        "detector:detect_batch: item 1: expected " .. inputs .. "; got a number")
      assert.has_error(function() det:detect_batch(nil) end,
        "detector:detect_batch: expected a list of images, got nil")
    end)

    it("R27: a pyramid whose first level exceeds the pixel limit is refused before any work", function()
      local det = assert(detector.new{min_face = 1})
      local s, err = det:scales(20000, 20000)
      assert.is_nil(s)
      assert.matches("more than the pixel limit", err, 1, true)
    end)

    it("R28: overflowing sizes are reported with their numbers, and no format leaks into messages", function()
      assert.has_error(function() T.zeros{1 << 40, 1 << 40} end,
        "tensor: shape 1099511627776x1099511627776 is too large")
      assert.has_error(function() T.zeros{-(1 << 40)} end,
        "zeros: size 1 of the shape is not a non-negative integer")
      assert.has_error(function() T.arange(0, 1e13) end, "arange: 1e+13 elements is too many")
      assert.has_error(function() image.max_pixels(-5) end, "max_pixels: -5 is not a positive count")
      local img = image.new(8, 8, {0, 0, 0})
      assert.has_error(function() img:draw_point(1, 1, {radius = 1e7}) end, "draw_point: bad radius 1e+07")
      assert.has_error(function() image.new(1 << 40, 1 << 40, {0, 0, 0}) end,
        "image.new: width: 1099511627776 is out of range 0..16777216")
    end)
  end)

  describe("record files", function()
    -- both header copies rewritten with these class counts and a right checksum
    local function rewrite_counts(path, counts)
      local f = assert(io.open(path, "r+b"))
      for _, at in ipairs{0, 512} do
        f:seek("set", at)
        local slot = f:read(128)
        if slot:sub(1, 8) == "MTCNNREC" then
          local body = slot:sub(1, 48) .. string.pack("<i8<i8<i8<i8", table.unpack(counts)) ..
            slot:sub(81, 124)
          f:seek("set", at)
          f:write(body, string.pack("<I4", crc32c(body)))
        end
      end
      f:close()
    end

    it("R29: a checksummed header whose class counts wrap around is refused (reader and merge)", function()
      local path = F.write(dir .. "/w.rec", 4, {1})
      rewrite_counts(path, {5, -1, 0, 0}) -- sums to 4 modulo 2^64
      local f, err = record.open(path)
      assert.is_nil(f)
      assert.matches("bad header: 4 samples but class counts 5, 18446744073709551615, 0, 0", err, 1, true)
      local ok, merr = require("mtcnn.record.merge").run{net = "pnet", inputs = {path},
        output = dir .. "/out.rec"}
      assert.is_nil(ok)
      assert.matches("bad header", merr, 1, true)
    end)

    it("R30: class counts that disagree with the labels make verify fail (status 1)", function()
      local path = F.write(dir .. "/l.rec", 4, {1})
      rewrite_counts(path, {2, 2, 0, 0})
      local out, code = helper.mtcnn("scripts/records.lua verify " .. q(path))
      assert.are.equal(1, code)
      assert.matches("label counts differ", out, 1, true)
    end)

    it("R31: a damaged header copy makes verify fail; a writer keeps the bytes after the commit", function()
      local path = dir .. "/h.rec"
      local w = assert(record.writer(path, {size = 12, block = 4}))
      for i = 1, 3 do assert(w:add(F.sample(i, 12, 0))) end
      assert(w:commit())
      for i = 4, 6 do assert(w:add(F.sample(i, 12, 0))) end
      assert(w:close())
      -- the newer copy (the one written last) damaged
      local f = assert(record.open(path))
      local newer = f:verify().damaged_header
      f:close()
      assert.is_nil(newer)
      for _, at in ipairs{40, 552} do
        local copy = helper.read_file(path)
        F.poke(path, at, "\99")
        local g = record.open(path)
        if g and g.count == 3 then
          g:close()
          break
        end
        if g then g:close() end
        helper.write_file(path, copy)
      end
      local out, code = helper.mtcnn("scripts/records.lua verify " .. q(path))
      assert.are.equal(1, code, out)
      assert.matches("fails its checksum", out, 1, true)
      local size = F.size_of(path)
      local w2, err = record.writer(path, {size = 12})
      assert.is_nil(w2)
      assert.matches("is damaged", err, 1, true)
      assert.are.equal(size, F.size_of(path))
    end)

    it("R32: a record file cut inside a block names the file and the block", function()
      local path = F.write(dir .. "/t.rec", 6, {1})
      F.truncate(path, F.offset(5, 12, 4) - 3)
      local _, err = record.open(path)
      assert.matches("t.rec", err, 1, true)
      assert.matches("block 0", err, 1, true)
    end)
  end)

  describe("model and tensor files", function()
    it("R33: a truncated or bit-flipped model file is refused, naming the file", function()
      local src = helper.read_file(MODEL .. "/pnet.mtn")
      helper.write_file(dir .. "/cut.mtn", src:sub(1, #src // 2))
      local n, err = mtcnn.models.load(dir .. "/cut.mtn")
      assert.is_nil(n)
      assert.matches("cut.mtn", err, 1, true)
      local at = #src // 2
      helper.write_file(dir .. "/flip.mtn", src:sub(1, at - 1) .. string.char(src:byte(at) ~ 1) .. src:sub(at + 1))
      n, err = mtcnn.models.load(dir .. "/flip.mtn")
      assert.is_nil(n)
      assert.matches("flip.mtn", err, 1, true)
    end)
  end)
end)

-- Long jobs (training, sample generation, merging, evaluation) whose outputs cannot be
-- written. A full disk is made with a file-size limit (RLIMIT_FSIZE, which binds root too,
-- unlike permissions): a write past it fails with EFBIG at the moment it is made, as a write
-- onto a full disk fails with ENOSPC.
describe("reliability of long jobs' outputs", function()
  local TF = require "train_fixtures"
  local sys = mtcnn.sys
  local checkpoint = require "mtcnn.train.checkpoint"
  local dir, set, wider

  -- Runs the host with args, every file it writes limited to kib KiB (SIGXFSZ ignored, so
  -- that the write returns the error instead of the signal ending the process).
  local function limited(kib, args)
    return helper.run("bash -c " .. q(("trap '' XFSZ; ulimit -f %d; exec %s %s"):format(kib,
      q(helper.bin), args)))
  end

  local function train_args(out, extra)
    return ("%s --train %s --val %s --out %s --threads 1 --quiet %s"):format(
      q(helper.home .. "/scripts/train_pnet.lua"), q(set.train), q(table.concat(set.val, ",")),
      q(out), extra or "")
  end

  -- the steps of a training log's whole lines, in order
  local function logged_steps(path)
    local steps = {}
    for line in io.lines(path) do
      local e = mtcnn.json.decode(line)
      if type(e) == "table" then steps[#steps + 1] = e.step end
    end
    return steps
  end

  setup(function()
    dir = helper.tmpdir()
    set = TF.build(dir, {images = 12, val_images = 4, seed = 1})
    -- a WIDER-style annotation file over synthetic pictures, for gen_pnet_data.lua
    wider = dir .. "/wider"
    os.execute("mkdir -p " .. q(wider .. "/images/0--a"))
    local g, gt = T.generator(3), {}
    for i = 1, 40 do
      local img, faces = TF.picture(g)
      local name = ("0--a/p%02d.png"):format(i)
      assert(img:save(wider .. "/images/" .. name))
      gt[#gt + 1] = name
      gt[#gt + 1] = tostring(#faces)
      for _, f in ipairs(faces) do
        local b = f.box
        gt[#gt + 1] = ("%d %d %d %d 0 0 0 0 0 0"):format(b[1], b[2], b[3] - b[1] + 1, b[4] - b[2] + 1)
      end
    end
    helper.write_file(wider .. "/gt.txt", table.concat(gt, "\n") .. "\n")
  end)

  teardown(function() helper.rmdir(dir) end)

  it("R34: training whose log cannot be written stops at that line (status 3); --resume leaves no gap", function()
    local out = dir .. "/loggap"
    -- about 265 bytes a line: the log passes 96 KiB near step 370 of 448, the checkpoints
    -- (every 5 steps, about 65 KB) stay below
    local args = train_args(out, "--batch 16 --epochs 8 --log-every 1 --checkpoint-every 5")
    local _, code, err = limited(96, args)
    assert.are.equal(3, code, err)
    assert.matches("cannot write " .. out .. "/log.jsonl: File too large", err, 1, true)
    -- no checkpoint vouches for a step whose log line is missing
    local steps = logged_steps(out .. "/log.jsonl")
    local last = steps[#steps]
    assert.is_true(last > 300 and last < 448, "the log stopped at step " .. tostring(last))
    local newest = checkpoint.list(out .. "/checkpoints")[1]
    assert.is_true(newest.step <= last, ("checkpoint %d after the last logged step %d"):format(newest.step, last))
    assert(checkpoint.load(newest.path))
    -- resumed with room: every step's line once, in order
    _, code, err = helper.mtcnn(train_args(out, "--resume"))
    assert.are.equal(0, code, err)
    steps = logged_steps(out .. "/log.jsonl")
    assert.are.equal(448, #steps)
    for i, s in ipairs(steps) do assert.are.equal(i, s) end
  end)

  it("R35: a checkpoint that cannot be written ends the run (status 3), leaving no part of it", function()
    local out = dir .. "/ckpt"
    local _, code, err = helper.mtcnn(train_args(out, "--batch 64 --epochs 1 --checkpoint-every 5"))
    assert.are.equal(0, code, err)
    local first = checkpoint.list(out .. "/checkpoints")[1]
    -- one more epoch, each file limited to 40 KiB: the next checkpoint (about 60 KB) fails
    _, code, err = limited(40, train_args(out, "--resume --epochs 2"))
    assert.are.equal(3, code, err)
    local failed = err:match("(" .. out:gsub("%p", "%%%0") .. "/checkpoints/step%-%d+%.ckpt): write failed: File too large")
    assert.is_string(failed, err)
    -- nothing under the failed checkpoint's name, no temporary file, the earlier one whole
    assert.are.same({first.path:match("[^/]+$")}, sys.listdir(out .. "/checkpoints"))
    assert(checkpoint.load(first.path))
    -- resumed with room: from that checkpoint to the end
    local stdout
    stdout, code, err = helper.mtcnn(train_args(out, "--resume --epochs 2"))
    assert.are.equal(0, code, err)
    assert.matches("resumed from " .. first.path, stdout, 1, true)
    assert(mtcnn.models.load(out .. "/pnet.mtn"))
  end)

  it("R36: a checkpoint folder or a model file that cannot be written: status 3, --resume finishes", function()
    local out = dir .. "/nofolder"
    os.execute("mkdir -p " .. q(out))
    helper.write_file(out .. "/checkpoints", "a file where the folder goes")
    local _, code, err = helper.mtcnn(train_args(out, "--epochs 1"))
    assert.are.equal(3, code, err)
    assert.matches("cannot create the checkpoint folder: " .. out .. "/checkpoints", err, 1, true)
    assert.is_nil(sys.stat(out .. "/log.jsonl"), "nothing trained")
    -- the model folder's manifest cannot be written: the last checkpoint is whole
    out = dir .. "/nomanifest"
    os.execute("mkdir -p " .. q(out .. "/manifest.json/x"))
    _, code, err = helper.mtcnn(train_args(out, "--epochs 1"))
    assert.are.equal(3, code, err)
    assert.matches(out .. "/manifest.json", err, 1, true)
    os.execute("rm -r " .. q(out .. "/manifest.json"))
    _, code, err = helper.mtcnn(train_args(out, "--resume"))
    assert.are.equal(0, code, err)
    assert.is_table(assert(mtcnn.json.read_file(out .. "/manifest.json")).nets)
  end)

  it("R37: sample generation onto a full disk: status 3 naming the file, --resume gives the same records", function()
    local function gen(out, extra)
      return ("%s --annotations %s --images %s --out %s --quiet --threads 1 --chunk 4 --commit-every 0 %s"):format(
        q(helper.home .. "/scripts/gen_pnet_data.lua"), q(wider .. "/gt.txt"), q(wider .. "/images"),
        q(out), extra or "")
    end
    local whole, cut = dir .. "/gen_whole", dir .. "/gen_cut"
    local _, code, err = helper.mtcnn(gen(whole))
    assert.are.equal(0, code, err)
    _, code, err = limited(50, gen(cut))
    assert.are.equal(3, code, err)
    assert.matches(cut .. "/train.rec: write failed: File too large", err, 1, true)
    _, code, err = helper.mtcnn(gen(cut, "--resume"))
    assert.are.equal(0, code, err)
    helper.same_records(whole, cut)
    -- an output folder that cannot be created, a state file that cannot be written
    helper.write_file(dir .. "/gen_file", "")
    _, code, err = helper.mtcnn(gen(dir .. "/gen_file"))
    assert.are.equal(3, code, err)
    assert.matches("gen_file: cannot create folder", err, 1, true)
    _, code, err = helper.mtcnn(("%s --stage rnet --model %s --annotations %s --images %s --out %s --quiet --threads 1")
      :format(q(helper.home .. "/scripts/gen_hard_examples.lua"), q(MODEL), q(wider .. "/gt.txt"),
        q(wider .. "/images"), q(dir .. "/gen_file")))
    assert.are.equal(3, code, err)
    assert.matches("gen_file: cannot create folder", err, 1, true)
    os.execute("mkdir -p " .. q(dir .. "/gen_state/state.json/x"))
    _, code, err = helper.mtcnn(gen(dir .. "/gen_state", "--force"))
    assert.are.equal(3, code, err)
    assert.matches("gen_state/state.json", err, 1, true)
  end)

  it("R38: merging onto a full disk: status 3 naming the file, nothing left under its name", function()
    local out = dir .. "/merged"
    os.execute("mkdir -p " .. q(out))
    local inputs = q(set.train:gsub("train%.rec$", "det_train.rec")) .. " " ..
      q(set.train:gsub("train%.rec$", "lmk_train.rec"))
    local script = q(helper.home .. "/scripts/merge_records.lua")
    local _, code, err = limited(100, ("%s --net pnet --quiet --out %s %s"):format(script,
      q(out .. "/train.rec"), inputs))
    assert.are.equal(3, code, err)
    assert.matches(out .. "/train.rec: write failed: File too large", err, 1, true)
    assert.are.same({}, sys.listdir(out))
    -- per-class outputs in a folder that cannot be created
    helper.write_file(dir .. "/merge_file", "")
    _, code, err = helper.mtcnn(("%s --net rnet --quiet --out %s %s"):format(script,
      q(dir .. "/merge_file"), inputs))
    assert.are.equal(3, code, err)
    assert.matches("merge_file: cannot create folder", err, 1, true)
  end)

  it("R40: a link planted at a temporary name is neither written through nor renamed into place", function()
    local out = dir .. "/planted"
    os.execute("mkdir -p " .. q(out .. "/checkpoints") .. " " .. q(dir .. "/merge_planted"))
    local victim = dir .. "/victim"
    helper.write_file(victim, "keep me")
    -- the host takes the shell's pid ($$, exec), so its temporary names are known beforehand
    local function planted(links, args)
      local cmd = {}
      for _, l in ipairs(links) do cmd[#cmd + 1] = ("ln -s %s %s.tmp.$$"):format(q(l[1]), q(l[2])) end
      cmd[#cmd + 1] = "exec " .. q(helper.bin) .. " " .. args
      return helper.run("bash -c " .. q(table.concat(cmd, "; ")))
    end
    local _, code, err = planted({{"/dev/full", out .. "/log.jsonl"}, {victim, out .. "/config.lua"},
      {victim, out .. "/checkpoints/step-000000005.ckpt"}, {victim, out .. "/pnet.mtn"},
      {victim, out .. "/manifest.json"}}, train_args(out, "--epochs 1 --checkpoint-every 5"))
    assert.are.equal(0, code, err)
    local merged = dir .. "/merge_planted/train.rec"
    _, code, err = planted({{victim, merged}}, ("%s --net pnet --quiet --out %s %s %s"):format(
      q(helper.home .. "/scripts/merge_records.lua"), q(merged),
      q(set.train:gsub("train%.rec$", "det_train.rec")), q(set.train:gsub("train%.rec$", "lmk_train.rec"))))
    assert.are.equal(0, code, err)
    assert.are.equal("keep me", helper.read_file(victim))
    for _, path in ipairs({out .. "/log.jsonl", out .. "/config.lua", out .. "/pnet.mtn",
                           out .. "/manifest.json", merged}) do
      assert.is_false(os.execute("test -L " .. q(path)) == true, path .. " is a link")
      assert.are.equal("file", sys.stat(path).type, path)
    end
    assert.are.equal("other", sys.stat("/dev/full").type)
    assert(checkpoint.load(checkpoint.list(out .. "/checkpoints")[1].path))
    assert(record.open(merged)):close()
  end)

  it("R41: --resume with a log that is a link to /dev/zero: refused, naming it, no endless read", function()
    local out = dir .. "/zero"
    local _, code, err = helper.mtcnn(train_args(out, "--epochs 1"))
    assert.are.equal(0, code, err)
    os.remove(out .. "/log.jsonl")
    assert(os.execute(("ln -s /dev/zero %s"):format(q(out .. "/log.jsonl"))))
    -- (bounded memory and time: before the fix the read grew until memory ran out; the
    -- sanitizers' shadow memory needs more address space than the bound)
    local bound = os.getenv("ASAN_OPTIONS") and "" or "ulimit -v 2000000; "
    _, code, err = helper.run(("bash -c %s"):format(q(("%sexec timeout 60 %s %s"):format(bound,
      q(helper.bin), train_args(out, "--resume")))))
    assert.are.equal(3, code, err)
    assert.matches(out .. "/log.jsonl: not a regular file", err, 1, true)
  end)

  it("R42: the pipeline passes on a step's status 3 (an output folder that cannot be made)", function()
    helper.need_shared("the WIDER and landmark data")
    local work = dir .. "/pipe"
    os.execute("mkdir -p " .. q(work .. "/pnet"))
    helper.write_file(work .. "/pnet/detection", "") -- a file where the step's folder goes
    local D = helper.shared .. "/data"
    local _, code, err = helper.mtcnn(("scripts/pipeline.lua --wider %s --landmarks %s --work %s "
      .. "--tiny --to 3 --quiet --threads 1"):format(q(D .. "/wider"), q(D .. "/landmarks"), q(work)))
    assert.are.equal(3, code, err)
    assert.matches(work .. "/pnet/detection: cannot create folder", err, 1, true)
    assert.matches("step 3 (PNet detection samples): gen_pnet_data.lua failed (exit status 3)", err, 1, true)
  end)

  it("R43: a picture gnuplot fails to write: status 3 after the numbers and the model", function()
    -- a gnuplot that answers --version and then fails, as one that cannot write its PNG does
    local fake = dir .. "/gnuplot_fails"
    helper.write_file(fake, '#!/bin/sh\n[ "$1" = --version ] && { echo "gnuplot 5.4"; exit 0; }\n'
      .. 'echo "cannot open file; output not changed" >&2; exit 1\n')
    assert(os.execute("chmod +x " .. q(fake)))
    local env = "MTCNN_GNUPLOT=" .. q(fake)
    local out = dir .. "/curves_lost"
    local _, code, err = helper.mtcnn(train_args(out, "--epochs 1"), env)
    assert.are.equal(3, code, err)
    assert.matches("curves.png: plot: gnuplot failed: cannot open file", err, 1, true)
    assert(mtcnn.models.load(out .. "/pnet.mtn"))
    assert.are.equal("file", sys.stat(out .. "/manifest.json").type)
    -- an evaluation's --plot: the numbers are printed, then the error
    local list = dir .. "/lm_list.txt"
    helper.write_file(list, "a/x.jpg 10 50 10 50 20 20 40 20 30 30 22 40 38 40\n")
    helper.write_file(dir .. "/lm_pred.jsonl", mtcnn.json.encode({image = "a/x.jpg", faces = {{
      box = {10, 10, 50, 50}, score = 0.9, landmarks = {{21, 20}, {40, 21}, {30, 30}, {22, 40}, {38, 40}}}}}) .. "\n")
    local res
    res, code, err = helper.mtcnn(("scripts/eval_landmarks.lua --list %s --pred %s --plot %s"):format(
      q(list), q(dir .. "/lm_pred.jsonl"), q(dir .. "/ced.png")), env)
    assert.are.equal(3, code, err)
    assert.matches("NME (inter-ocular): mean", res, 1, true)
    assert.matches("error: no picture: plot: gnuplot failed: cannot open file", err, 1, true)
    -- without gnuplot at all: a note, and the run succeeds
    _, code, err = helper.mtcnn(train_args(dir .. "/no_gnuplot", "--epochs 1"):gsub(" %-%-quiet", ""),
      "MTCNN_GNUPLOT=/nonexistent/gnuplot")
    assert.are.equal(0, code, err)
    assert.matches("no curves.png: gnuplot is not available", err, 1, true)
  end)

  it("R39: an evaluation whose --save file cannot be written: status 3 naming it", function()
    helper.need_shared("the WIDER ground truth")
    helper.write_file(dir .. "/p.jsonl", mtcnn.json.encode({
      image = "/x/WIDER_val/images/0--Parade/0_Parade_Parade_0_205.jpg",
      faces = {{box = {10, 10, 40, 40}, score = 0.9}}}) .. "\n")
    helper.write_file(dir .. "/save_file", "")
    local _, code, err = helper.mtcnn(("scripts/eval_wider.lua --pred %s --gt %s --save %s"):format(
      q(dir .. "/p.jsonl"), q(helper.shared .. "/data/wider/eval_tools"), q(dir .. "/save_file/a.json")))
    assert.are.equal(3, code, err)
    assert.matches("save_file/a.json", err, 1, true)
  end)
end)

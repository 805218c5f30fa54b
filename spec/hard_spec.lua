-- Hard examples (docs/design.md, 'Hard examples'): sample.windows on a synthetic picture
-- (squaring, rounding, skipped windows, labels, the cap on negatives, targets, pixels), and
-- scripts/gen_hard_examples.lua with the bundled original PNet and RNet on a few shared WIDER
-- images: every label against the IoU of its stored crop box, at most the cap of negatives per
-- image, all three classes, the same records for any thread count and chunk size, the
-- validation split of gen_pnet_data.lua, a SIGKILLed run resumed, refused settings; and
-- sample.landmark_windows and the script's --landmarks mode (landmark windows) on the
-- shared landmark list.

local helper = require "helper"
local mtcnn = require "mtcnn"

local image, box, sample, record, json = mtcnn.image, mtcnn.box, mtcnn.sample, mtcnn.record,
  mtcnn.json
local config = require "mtcnn.config"
local gen = require "mtcnn.gen"

-- A picture of 4x4 blocks of many colours, so that different crops differ.
local function blocks(w, h)
  local img = image.new(w, h)
  for y = 0, h - 1, 4 do
    for x = 0, w - 1, 4 do
      img:draw_rect(x, y, x + 3, y + 3, {color = {(x * 7 + y) % 256, (y * 5) % 256, (x + y * 3) % 256}, fill = true})
    end
  end
  return img
end

-- numpy's round: halves to even
local function round_even(v)
  local r = math.floor(v)
  local d = v - r
  if d > 0.5 or (d == 0.5 and r % 2 == 1) then r = r + 1 end
  return r
end

-- The seed's square (side max(w, h), inclusive) of a window, rounded.
local function squared(b)
  local w, h = b[3] - b[1] + 1, b[4] - b[2] + 1
  local l = math.max(w, h)
  local x1, y1 = b[1] + w * 0.5 - l * 0.5, b[2] + h * 0.5 - l * 0.5
  return {round_even(x1), round_even(y1), round_even(x1 + l - 1), round_even(y1 + l - 1)}
end

local function best_iou(b, faces)
  local best, which = 0, 0
  if #faces > 0 then
    for k, o in ipairs(box.iou(b, faces)) do if o > best or which == 0 then best, which = o, k end end
  end
  return best, which
end

describe("sample.windows", function()
  local img = blocks(200, 160)
  local faces = {{40, 30, 99, 89}, {120, 40, 159, 79}}
  local windows = {
    {10.5, 100, 39.5, 129},        -- a negative whose corners round to even: x 10..40
    {40.3, 30.2, 99.4, 89.6},      -- on face 1: a positive
    {5, 5, 14, 14},                -- narrower than 20 once square: skipped
    {-10, 100, 40, 150},           -- reaching outside the image: skipped
    {60, 30, 119, 89},             -- IoU 0.5 with face 1: a part face
    {68, 30, 127, 89},             -- IoU 0.36: between the bounds, dropped
    {121, 41, 158, 78.5},          -- face 2, wider once square: a positive
    {40, 100, 69, 129}, {70, 100, 99, 129}, {100, 100, 129, 129}, {130, 100, 159, 129},
  }
  local opts = {size = 24, win_neg_max = 3}

  it("squares, rounds, skips and labels the windows in order, negatives capped", function()
    local r = sample.windows(img, faces, windows, opts)
    assert.are.same({windows = #windows, small = 1, outside = 1, between = 1, neg_over = 2, face_small = 0},
                    r.windows)
    local kept = {1, 2, 5, 7, 8, 9} -- the first 3 negatives (1, 8, 9), in the windows' order
    local labels = {0, 1, -1, 1, 0, 0}
    assert.are.equal(#kept, r.count)
    assert.are.same({positive = 2, negative = 3, part = 1, landmark = 0}, r.counts)
    assert.are.same({10, 100, 40, 129}, r.boxes[1]:to_table())
    for i, k in ipairs(kept) do
      local b = r.boxes[i]:to_table()
      assert.are.same(squared(windows[k]), b, "window " .. k)
      assert.are.equal(labels[i], r.labels[i], "label of window " .. k)
      local o, which = best_iou(b, faces)
      helper.near(r.iou[i], o, 1e-6, "stored IoU")
      assert.are.equal(which, r.faces[i])
      if labels[i] == 0 then
        assert.are.same({0, 0, 0, 0}, r.targets[i]:to_table())
      else
        local back = sample.reconstruct(r, i)
        for c = 1, 4 do helper.near(back[c], faces[which][c], 1e-4, "target") end
      end
      -- the crop resized as the detector cuts its windows (bilinear here)
      assert.is_true(sample.images(r)[i] == img:crop(b[1], b[2], b[3], b[4]):resize(24, 24, "bilinear"),
                     "pixels of window " .. k)
    end
    local a = sample.windows(img, faces, windows, {size = 48, method = "area", win_neg_max = 3})
    local b = a.boxes[2]:to_table()
    assert.is_true(sample.images(a)[2] == img:crop(b[1], b[2], b[3], b[4]):resize(48, 48, "area"))
  end)

  it("drops positives and part faces narrower than win_face_min_side, and no negative", function()
    local plain = sample.windows(img, faces, windows, opts)
    local o = {size = 24, win_neg_max = 3, win_face_min_side = 50}
    local r = sample.windows(img, faces, windows, o)
    -- face 2's positive (38 pixels once square) goes; the 60-pixel positive and part face and
    -- the three negatives (30 and 31 pixels) stay, the same as without the option
    assert.are.same({windows = #windows, small = 1, outside = 1, between = 1, neg_over = 2, face_small = 1},
                    r.windows)
    assert.are.same({positive = 1, negative = 3, part = 1, landmark = 0}, r.counts)
    local kept = {1, 2, 3, 5, 6} -- rows of the plain result
    for i, k in ipairs(kept) do
      assert.are.same(plain.boxes[k]:to_table(), r.boxes[i]:to_table())
      assert.are.equal(plain.labels[k], r.labels[i])
    end
    local ok, err = pcall(sample.windows, img, faces, windows, {win_face_min_side = -1})
    assert.is_false(ok)
    assert.matches("win_face_min_side >= 0", err)
  end)

  it("takes every window as a negative on an image without faces, and checks its options", function()
    local r = sample.windows(img, {}, windows, {size = 24})
    assert.are.same({positive = 0, negative = 9, part = 0, landmark = 0}, r.counts)
    for i = 1, r.count do assert.are.equal(0, r.faces[i]) end
    r = sample.windows(img, faces, windows, {size = 24, win_neg_max = 0, win_min_side = 32})
    assert.are.same({positive = 2, negative = 0, part = 1, landmark = 0}, r.counts)
    assert.are.equal(6, r.windows.small) -- the 30- and 31-pixel negatives too
    r = sample.windows(img, faces, {}, {size = 24})
    assert.are.equal(0, r.count)
    local ok, err = pcall(sample.windows, img, faces, windows, {win_neg_max = -1})
    assert.is_false(ok)
    assert.matches("need win_min_side >= 1, win_neg_max >= 0, win_lmk_max >= 0", err)
    ok, err = pcall(sample.windows, img, faces, windows, {neg_max = 3})
    assert.is_false(ok)
    assert.matches("unknown option 'neg_max'", err)
  end)
end)

describe("sample.landmark_windows", function()
  local img = blocks(200, 160)
  local faces = {{40, 30, 99, 89}, {120, 40, 159, 79}}
  -- planar points: eyes, nose, mouth corners of each face
  local points = {{55, 85, 70, 58, 82, 50, 50, 62, 75, 75},
                  {130, 150, 140, 132, 148, 52, 52, 60, 68, 68}}
  local windows = {
    {40.3, 30.2, 99.4, 89.6},      -- face 1 framed: a landmark sample
    {5, 5, 14, 14},                -- narrower than 20 once square: skipped
    {-10, 100, 40, 150},           -- reaching outside the image: skipped
    {10, 100, 39, 129},            -- frames no face (IoU 0)
    {60, 30, 119, 89},             -- IoU 0.5 with face 1, but the left eye (x 55) is outside
    {36, 26, 103, 93},             -- face 1 again, a little wider: a landmark sample
    {121, 41, 158, 78.5},          -- face 2: a landmark sample
    {40, 32, 99, 91},              -- face 1 a third time: over a cap of 2
  }

  -- A point normalised to a box as the training targets are (half-pixel offset).
  local function norm(v, lo, side) return (v - lo + 0.5) / side end

  it("takes the windows that frame a face as its landmark samples, in order, capped per face", function()
    local r = sample.landmark_windows(img, faces, points, windows, {size = 48, win_lmk_max = 2})
    assert.are.same({windows = #windows, small = 1, outside = 1, far = 1, points = 1, over = 1}, r.windows)
    assert.are.same({positive = 0, negative = 0, part = 0, landmark = 3}, r.counts)
    local kept, face = {1, 6, 7}, {1, 1, 2}
    for i, k in ipairs(kept) do
      local b = r.boxes[i]:to_table()
      assert.are.same(squared(windows[k]), b, "window " .. k)
      assert.are.equal(-2, r.labels[i])
      assert.are.equal(face[i], r.faces[i])
      local o = best_iou(b, faces)
      helper.near(r.iou[i], o, 1e-6, "stored IoU")
      assert.is_true(o >= 0.4)
      assert.are.same({0, 0, 0, 0}, r.targets[i]:to_table())
      local side = b[3] - b[1] + 1
      local lm = r.landmarks[i]:to_table()
      for q = 1, 5 do
        helper.near(lm[q], norm(points[face[i]][q], b[1], side), 1e-6, "x of point " .. q)
        helper.near(lm[q + 5], norm(points[face[i]][q + 5], b[2], side), 1e-6, "y of point " .. q)
      end
      assert.is_true(sample.images(r)[i] == img:crop(b[1], b[2], b[3], b[4]):resize(48, 48, "bilinear"),
                     "pixels of window " .. k)
    end
  end)

  it("follows win_lmk_iou and win_lmk_max, and checks its inputs", function()
    -- a bar above window 6's IoU with face 1 drops it (and window 5) as framing no face; the
    -- default cap (10) keeps window 8
    local o6 = best_iou(squared(windows[6]), faces)
    local r = sample.landmark_windows(img, faces, points, windows, {size = 24, win_lmk_iou = o6 + 0.01})
    assert.are.same({windows = #windows, small = 1, outside = 1, far = 3, points = 0, over = 0}, r.windows)
    assert.are.equal(3, r.count)
    assert.are.same(squared(windows[8]), r.boxes[3]:to_table())
    r = sample.landmark_windows(img, faces, points, windows, {size = 24, win_lmk_max = 0})
    assert.are.equal(0, r.count)
    assert.are.equal(5, r.windows.over) -- (the cap is checked before the points)
    r = sample.landmark_windows(img, {}, {}, windows, {size = 24})
    assert.are.equal(0, r.count)
    local ok, err = pcall(sample.landmark_windows, img, faces, {points[1]}, windows)
    assert.is_false(ok)
    assert.matches("2 faces but 1 sets of points", err)
    ok, err = pcall(sample.landmark_windows, img, faces, points, windows, {win_lmk_iou = 0})
    assert.is_false(ok)
    assert.matches("win_lmk_iou 0 is not in %(0, 1%]", err)
  end)
end)

local WIDER = helper.shared .. "/data/wider"

-- The annotations (official format) of a few images of the shared subset, read from the
-- shared image folder.
local function fixture(dir, picks)
  local set = assert(mtcnn.data.read_wider(WIDER .. "/wider_face_split/wider_face_train_bbx_gt.subset.txt",
                                           {images = WIDER .. "/WIDER_train/images"}))
  local lines, chosen = {}, {}
  for _, i in ipairs(picks) do
    local e = set[i]
    chosen[#chosen + 1] = e
    lines[#lines + 1] = e.name
    lines[#lines + 1] = tostring(#e.faces)
    for _, f in ipairs(e.faces) do lines[#lines + 1] = ("%d %d %d %d 0 0 0 0 0 0"):format(f.x, f.y, f.w, f.h) end
  end
  helper.write_file(dir .. "/gt.txt", table.concat(lines, "\n") .. "\n")
  return chosen
end

local function script(name, args)
  return helper.mtcnn(helper.q(helper.home .. "/scripts/" .. name) .. " " .. args)
end

-- Runs a script and returns its JSON summary (asserting success).
local function summary_of(name, args)
  local out, code, err = script(name, args .. " --json")
  assert.are.equal(0, code, err)
  return json.decode(out)
end

-- Samples per source of an output: {source = {side, n, negative}}.
local function by_source(out)
  local per = {}
  for _, side in ipairs({"train", "val"}) do
    local f = assert(record.open(out .. "/" .. side .. ".rec"))
    for _, s in f:samples() do
      local p = per[s.source] or {side = side, n = 0, negative = 0}
      assert.are.equal(p.side, side, s.source .. " is on both sides")
      p.n, p.negative = p.n + 1, p.negative + (s.label == 0 and 1 or 0)
      per[s.source] = p
    end
    f:close()
  end
  return per
end

local same_records = helper.same_records

describe("gen_hard_examples.lua", function()
  local dir, chosen
  local function args(stage, out, extra, model)
    return ("--stage %s --model %s --annotations %s --images %s --out %s --seed 5 --quiet %s"):format(
      stage, helper.q(model or helper.home .. "/models/original"), helper.q(dir .. "/gt.txt"),
      helper.q(WIDER .. "/WIDER_train/images"), helper.q(out), extra or "")
  end
  setup(function()
    if not helper.has_shared then return end
    dir = helper.tmpdir()
    chosen = fixture(dir, {1, 22, 36, 43, 57, 15, 29, 64})
  end)
  teardown(function() if dir then helper.rmdir(dir) end end)

  it("labels every window by the IoU of its crop box, caps the negatives, finds all classes", function()
    helper.need_shared("WIDER FACE")
    local faces_of = {}
    for _, e in ipairs(chosen) do faces_of[e.name] = e.faces end
    for _, run in ipairs({{stage = "rnet", size = 24, extra = "--hard-neg-max 10 --threads 2"},
                          {stage = "onet", size = 48, face_side = 48,
                           extra = "--hard-neg-max 10 --hard-min-face 40 --hard-face-min-side 48 --threads 2 --chunk 3"}}) do
      local out = dir .. "/" .. run.stage
      local s = summary_of("gen_hard_examples.lua", args(run.stage, out, run.extra))
      assert.are.same({listed = 8, present = 8, done = 8, train = s.images.train, val = s.images.val,
                       missing = 0, bad = 0}, s.images)
      assert.are.equal(run.size, s.size)
      assert.are.same(s, assert(json.read_file(out .. "/summary.json")))
      local cfg = assert(config.load_file(run.stage, out .. "/config.lua"))
      assert.are.equal(10, cfg.hard.hard_neg_max)
      local h = cfg.hard
      local per, total = {}, {positive = 0, negative = 0, part = 0}
      local narrow_negatives = 0 -- negatives narrower than face_side: the option keeps them
      for _, side in ipairs({"train", "val"}) do
        local f = assert(record.open(out .. "/" .. side .. ".rec", {size = run.size}))
        assert.are.equal(0, f:verify().nbad)
        for _, c in ipairs({"positive", "negative", "part"}) do
          assert.are.equal(s.samples[side][c], f:counts()[c])
          total[c] = total[c] + f:counts()[c]
        end
        for i, smp in f:samples() do
          local b = smp.box
          local o, which = best_iou(b, faces_of[smp.source])
          helper.near(smp.iou, o, 1e-6, "stored IoU of sample " .. i)
          assert.is_true(b[3] - b[1] + 1 >= h.hard_min_side and b[1] >= 0 and b[2] >= 0, "crop " .. i)
          if smp.label == 0 then
            assert.is_true(o < h.hard_neg_iou, "negative " .. i)
            per[smp.source] = (per[smp.source] or 0) + 1
            if b[3] - b[1] + 1 < (run.face_side or 0) then narrow_negatives = narrow_negatives + 1 end
          else
            assert.is_true(b[3] - b[1] + 1 >= (run.face_side or 0), "face sample " .. i .. " too narrow")
            if smp.label == 1 then
              assert.is_true(o >= h.hard_pos_iou, "positive " .. i)
            else
              assert.are.equal(-1, smp.label)
              assert.is_true(o >= h.hard_part_iou and o < h.hard_pos_iou, "part face " .. i)
            end
            assert.are.equal(which, smp.face)
            local g = faces_of[smp.source][which]
            local w, ht = b[3] - b[1] + 1, b[4] - b[2] + 1
            for c = 1, 4 do
              helper.near(b[c] + smp.target[c] * (c % 2 == 1 and w or ht), g[c], 1e-3, "target")
            end
          end
        end
        f:close()
      end
      local capped = 0
      for name, n in pairs(per) do
        assert.is_true(n <= 10, name .. ": " .. n .. " negatives")
        if n == 10 then capped = capped + 1 end
      end
      assert.is_true(capped >= 3, "the cap never bit")
      assert.is_true(total.positive > 0 and total.part > 0 and total.negative > 0)
      local t = s.tally
      assert.is_true(t.neg_over > 0 and t.windows > total.positive + total.part + total.negative)
      -- the setting is part of what a resume must share only where it drops something, so
      -- that a run from before it existed resumes
      local identity = assert(json.read_file(out .. "/state.json")).identity
      assert.are.equal(run.face_side, identity.settings.hard_face_min_side)
      assert.are.equal(run.face_side, identity.params.win_face_min_side)
      if run.face_side then
        assert.are.equal(48, h.hard_face_min_side)
        assert.is_true(t.face_small > 0 and narrow_negatives > 0, "the option bit nothing")
      else
        assert.are.equal(0, t.face_small)
      end
      assert.is_true(t.faces_counted > 0 and s.recall > 0.3 and s.recall <= 1)
      helper.near(s.recall, t.faces_recalled / t.faces_counted, 1e-12, "recall")
    end
  end)

  it("writes the same records whatever the threads and chunks", function()
    helper.need_shared("WIDER FACE")
    local a, b = dir .. "/t1", dir .. "/t2"
    local fast = "--hard-min-face 40 --limit 5 "
    assert.are.equal(0, select(2, script("gen_hard_examples.lua", args("rnet", a, fast .. "--threads 1 --chunk 1"))))
    assert.are.equal(0, select(2, script("gen_hard_examples.lua", args("rnet", b, fast .. "--threads 2 --chunk 3"))))
    same_records(a, b)
  end)

  it("holds out the images that gen_pnet_data.lua holds out for the same seed", function()
    helper.need_shared("WIDER FACE")
    local p, h = dir .. "/vp", dir .. "/vh"
    local common = ("--annotations %s --images %s --seed 9 --val-fraction 0.5 --quiet"):format(
      helper.q(dir .. "/gt.txt"), helper.q(WIDER .. "/WIDER_train/images"))
    assert.are.equal(0, select(2, script("gen_pnet_data.lua", common .. " --out " .. helper.q(p))))
    assert.are.equal(0, select(2, script("gen_hard_examples.lua", args("rnet", h,
      "--hard-min-face 40 --val-fraction 0.5 --seed 9"))))
    local pp, ph = by_source(p), by_source(h)
    local sides = {}
    for name, q in pairs(ph) do
      assert.are.equal(pp[name].side, q.side, name)
      assert.are.equal(q.side == "val", gen.split_key(name, 9) < 0.5)
      sides[q.side] = true
    end
    assert.is_true(sides.train and sides.val, "one side is empty")
  end)

  it("resumes after a SIGKILL to the same records as an uninterrupted run", function()
    helper.need_shared("WIDER FACE")
    local function kargs(out, extra)
      return args("rnet", out, "--hard-min-face 40 --threads 1 --chunk 1 --commit-every 0 " .. (extra or ""))
    end
    local ref, out = dir .. "/kref", dir .. "/kout"
    assert.are.equal(0, select(2, script("gen_hard_examples.lua", kargs(ref, "--chunk 4 --commit-every 1"))))
    for round, after in ipairs({2, 5}) do
      helper.kill_when_done(helper.home .. "/scripts/gen_hard_examples.lua",
        kargs(out, round > 1 and "--resume" or ""), out .. "/state.json", after, dir .. "/pid")
      assert.is_false(assert(json.read_file(out .. "/state.json")).complete, "the run ended before the kill")
    end
    local s = summary_of("gen_hard_examples.lua", kargs(out, "--resume --chunk 4"))
    assert.is_true(s.resumed)
    assert.are.equal(8, s.images.done)
    same_records(ref, out)
    -- the tallies of the interrupted run add up to the uninterrupted one's
    assert.are.same(assert(json.read_file(ref .. "/summary.json")).tally, s.tally)
  end)

  it("refuses other settings on resume, takes a preset, and rejects bad command lines", function()
    helper.need_shared("WIDER FACE")
    local out = dir .. "/r"
    local preset = require("mtcnn.hard").base("onet", "original").hard
    assert.are.same({0.6, 0.7, 24, 0.79}, {preset.hard_pnet_threshold, preset.hard_rnet_threshold,
                                           preset.hard_min_face, preset.hard_factor})
    local s = summary_of("gen_hard_examples.lua", args("rnet", out, "--hard-min-face 40 --limit 1 --preset original"))
    local cfg = assert(config.load_file("rnet", out .. "/config.lua"))
    assert.are.same({0.6, 0.7}, {cfg.hard.hard_pnet_threshold, cfg.hard.hard_rnet_threshold})
    assert.are.equal(40, cfg.hard.hard_min_face) -- the flag over the preset
    assert.are.equal(0.6, s.detection.thresholds[1])
    local _, code, err = script("gen_hard_examples.lua", args("rnet", out,
      "--hard-min-face 40 --preset original --hard-pnet-threshold 0.5 --resume"))
    assert.are.equal(1, code)
    assert.matches("other settings %(hard_pnet_threshold 0%.6, now 0%.5%)", err)
    _, code, err = script("gen_hard_examples.lua", args("rnet", out, "--preset original"))
    assert.are.equal(1, code)
    assert.matches("already holds a generation", err)
    -- a model without the RNet that --stage onet needs
    local m = dir .. "/pnet-only"
    os.execute(("mkdir -p %s && cp %s %s/"):format(helper.q(m), helper.q(helper.home .. "/models/original/pnet.mtn"), helper.q(m)))
    helper.write_file(m .. "/manifest.json", '{"nets": {"pnet": "pnet.mtn"}}')
    _, code, err = script("gen_hard_examples.lua", args("onet", dir .. "/o", "", m))
    assert.are.equal(1, code)
    assert.matches("has no rnet: train it, or use stages = 1", err)
    _, code, err = script("gen_hard_examples.lua", args("rnet", dir .. "/o", "--hard-factor 1"))
    assert.are.equal(1, code)
    assert.matches("factor must lie in %(0, 0%.95%], got 1", err)
    _, code, err = script("gen_hard_examples.lua", "--stage rnet --annotations x --images y --out z")
    assert.are.equal(2, code)
    assert.matches("^gen_hard_examples%.lua: %-%-model is required", err)
    _, code = script("gen_hard_examples.lua", args("pnet", dir .. "/o"))
    assert.are.equal(2, code)
    _, code, err = script("gen_hard_examples.lua", args("rnet", dir .. "/o", "--hard-neg-iou 1.5"))
    assert.are.equal(2, code)
    assert.matches("hard_neg_iou must be a number in %[0, 1%]", err)
    local text = script("gen_hard_examples.lua", "--help")
    assert.matches("%-%-hard%-pnet%-threshold VALUE", text)
    assert.matches("%-%-preset", text)
    assert.matches("%-%-landmarks", text)
    assert.matches("%-%-lmk%-window%-iou VALUE", text)
  end)

  it("with --landmarks, frames each face of a landmark list by the windows around it", function()
    helper.need_shared("the landmark set")
    local lm = helper.shared .. "/data/landmarks"
    local out = dir .. "/lw"
    local s = summary_of("gen_hard_examples.lua", ("--landmarks --stage onet --model %s --annotations %s "
      .. "--images %s --out %s --seed 3 --limit 24 --lmk-window-max 3 --threads 2 --quiet"):format(
      helper.q(helper.home .. "/models/original"), helper.q(lm .. "/trainImageList.txt"), helper.q(lm),
      helper.q(out)))
    assert.are.equal("landmark_windows", s.kind)
    assert.are.equal(24, s.images.done)
    assert.are.equal(0.6, s.detection.thresholds[1]) -- the section landmark_windows, not hard
    local cfg = assert(config.load_file("onet", out .. "/config.lua"))
    assert.are.equal(3, cfg.landmark_windows.lmk_window_max)
    local list = assert(mtcnn.data.read_landmarks(lm .. "/trainImageList.txt", {images = lm}))
    local by_name = {}
    for _, e in ipairs(list) do by_name[e.name] = e end
    local per, total = {}, 0
    for _, side in ipairs({"train", "val"}) do
      local f = assert(record.open(out .. "/" .. side .. ".rec", {size = 48}))
      assert.are.same({positive = 0, negative = 0, part = 0, landmark = f.count}, f:counts())
      assert.are.equal(s.samples[side].landmark, f.count)
      for i, smp in f:samples() do
        local e = by_name[smp.source]
        -- the validation split of gen_landmark_data.lua for the same seed
        assert.are.equal(side == "val", gen.split_key(e.name, 3) < 0.1, smp.source)
        local b = smp.box
        local o = box.iou(b, {e.box})[1]
        helper.near(smp.iou, o, 1e-6, "stored IoU of sample " .. i)
        assert.is_true(o >= cfg.landmark_windows.lmk_window_iou, "IoU of sample " .. i)
        -- (rounded corners: the height may differ from the width by a pixel)
        local w, h = b[3] - b[1] + 1, b[4] - b[2] + 1
        for q = 1, 5 do
          helper.near(smp.landmarks[q], (e.points[q] - b[1] + 0.5) / w, 1e-5, "x " .. q)
          helper.near(smp.landmarks[q + 5], (e.points[q + 5] - b[2] + 0.5) / h, 1e-5, "y " .. q)
        end
        per[smp.source] = (per[smp.source] or 0) + 1
        total = total + 1
      end
      f:close()
    end
    local capped = 0
    for name, n in pairs(per) do
      assert.is_true(n <= 3, name)
      if n == 3 then capped = capped + 1 end
    end
    assert.is_true(capped >= 12, "the cap bit on " .. capped .. " faces")
    local t = s.tally
    assert.are.equal(t.windows, t.small + t.outside + t.far + t.points + t.over + total)
    assert.is_true(t.over > 0 and s.recall > 0.9)
  end)
end)

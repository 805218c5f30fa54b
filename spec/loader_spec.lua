-- The training data loader: batch contents, epochs and reshuffling, stratified composition,
-- determinism across worker counts, resume, mirroring with targets, colour jitter, batch
-- lifetime, repeated creation and dropping, bad files, and a training step on its batches.

local helper = require "helper"
local F = require "record_fixtures"
local mtcnn = require "mtcnn"

local record, loader, image, T = mtcnn.record, mtcnn.loader, mtcnn.image, mtcnn.tensor

-- the normalised [3, S, S] tensor of an image
local function planes(img)
  return image.to_batch({img})[1]
end

local function mirror_targets(t) return {-t[3], t[2], -t[1], t[4]} end

local function mirror_landmarks(l)
  local x = {1 - l[2], 1 - l[1], 1 - l[3], 1 - l[5], 1 - l[4]}
  local y = {l[7], l[6], l[8], l[10], l[9]}
  return {x[1], x[2], x[3], x[4], x[5], y[1], y[2], y[3], y[4], y[5]}
end

local function near_list(a, b, tol, what)
  assert.are.equal(#b, #a)
  for k = 1, #a do helper.near(a[k], b[k], tol, what) end
end

-- indices (and mirror flags) of the next n batches, plus a checksum of their images
local function take(ld, n)
  local out = {}
  for _ = 1, n do
    local b = assert(ld:next())
    local rows = {}
    for r, p in ipairs(ld:provenance()) do rows[r] = p.stream .. ":" .. p.index .. (p.mirrored and "m" or "") end
    out[#out + 1] = {step = b.step, rows = rows, sum = b.images:sum(), boxes = b.boxes:sum(),
                     lmk = b.landmarks:sum()}
  end
  return out
end

describe("mtcnn.loader", function()
  local dir, mixed, pos, part, neg, lmk
  setup(function()
    dir = helper.tmpdir()
    mixed = F.write(dir .. "/mixed.rec", 96, {1, 0, -1, -2})
    pos = F.write(dir .. "/pos.rec", 30, {1}, {tag = "pos"})
    part = F.write(dir .. "/part.rec", 25, {-1}, {tag = "part"})
    neg = F.write(dir .. "/neg.rec", 70, {0}, {tag = "neg"})
    lmk = F.write(dir .. "/lmk.rec", 20, {-2}, {tag = "lmk"})
  end)
  teardown(function() helper.rmdir(dir) end)

  it("makes normalised batches of the records' samples and their targets", function()
    local ld = assert(loader.new{size = 12, files = mixed, batch = 16, mirror = false, workers = 0})
    assert.are.equal(16, ld.batch_size)
    assert.are.equal(6, ld.steps_per_epoch)
    local f = assert(record.open(mixed))
    for _ = 1, 3 do
      local b = assert(ld:next())
      assert.are.same({16, 3, 12, 12}, b.images:size())
      assert.are.same({16}, b.labels:size())
      assert.are.same({16, 4}, b.boxes:size())
      assert.are.same({16, 10}, b.landmarks:size())
      assert.are.equal(b.labels, b.target.label)
      assert.are.equal(b.boxes, b.target.box)
      assert.are.equal(b.landmarks, b.target.landmarks)
      for r, p in ipairs(ld:provenance()) do
        assert.are.equal(mixed, p.path)
        assert.is_false(p.mirrored)
        local s = assert(f:get(p.index))
        assert.are.equal(0, b.images[r]:max_abs_diff(planes(s.image)), "row " .. r)
        assert.are.equal(s.label, b.labels[r])
        near_list(b.boxes[r]:to_table(), s.target, 0)
        near_list(b.landmarks[r]:to_table(), s.landmarks, 0)
      end
    end
    -- (x - 127.5) / 128: the marked pixel (255, 0, 0) of some row
    local b = assert(ld:next())
    helper.near(b.images[1][1][1][1], 127.5 / 128, 0)
    helper.near(b.images[1][2][1][1], -127.5 / 128, 0)
    ld:close()
  end)

  it("covers every sample once per epoch and reshuffles each epoch", function()
    local ld = assert(loader.new{size = 12, files = mixed, batch = 16, seed = 9})
    local epochs = {}
    for e = 1, 3 do
      local order, seen, steps = {}, {}, 0
      for b in ld:epoch() do
        steps = steps + 1
        assert.are.equal(e, b.epoch)
        assert.are.equal(steps, b.step_in_epoch)
        for _, p in ipairs(ld:provenance()) do
          assert.is_nil(seen[p.index], "sample " .. p.index .. " twice in epoch " .. e)
          seen[p.index] = true
          order[#order + 1] = p.index
        end
      end
      assert.are.equal(6, steps)
      assert.are.equal(96, #order)
      epochs[e] = order
    end
    assert.are_not.same(epochs[1], epochs[2])
    assert.are_not.same(epochs[2], epochs[3])
    ld:close()
    -- a pool that is not a multiple of the batch: floor(100 / 16) steps, no repeats
    local odd = F.write(dir .. "/odd.rec", 100)
    ld = assert(loader.new{size = 12, files = odd, batch = 16})
    assert.are.equal(6, ld.steps_per_epoch)
    local seen = {}
    for _ in ld:epoch() do
      for _, p in ipairs(ld:provenance()) do
        assert.is_nil(seen[p.index])
        seen[p.index] = true
      end
    end
    ld:close()
    -- without shuffling: the file order
    ld = assert(loader.new{size = 12, files = {mixed, odd}, batch = 16, shuffle = false})
    assert(ld:next())
    local p = ld:provenance()
    for r = 1, 16 do assert.are.equal(r, p[r].index) end
    for _ = 2, 7 do assert(ld:next()) end
    p = ld:provenance() -- the 7th batch: positions 96..111 of the two files
    assert.are.equal(odd, p[1].path)
    assert.are.equal(1, p[1].index)
    ld:close()
  end)

  it("stratifies RNet/ONet batches: positives, part faces, negatives, landmark faces", function()
    local ld = assert(loader.new{size = 12, batch = 24, seed = 2,
      classes = {positive = pos, part = part, negative = neg, landmark = lmk}})
    assert.are.equal(24, ld.batch_size)
    assert.are.equal(6, ld.steps_per_epoch) -- (30 + 25 + 70 + 20) // 24, nominal
    local want = {}
    for r = 1, 24 do want[r] = r <= 4 and 1 or r <= 8 and -1 or r <= 20 and 0 or -2 end
    local pos_seen = {}
    for step = 1, 14 do
      local b = assert(ld:next())
      assert.are.same(want, b.labels:to_table())
      local p = ld:provenance()
      for r = 1, 4 do
        assert.are.equal(pos, p[r].path)
        -- a pass over the 30 positives is 7 batches of 4: no repeat within a pass
        local pass = (step - 1) // 7
        local key = pass .. ":" .. p[r].index
        assert.is_nil(pos_seen[key])
        pos_seen[key] = true
      end
      assert.are.equal("negative", p[9].name)
    end
    ld:close()
    -- custom counts, and a folder written by record.merge
    local out = dir .. "/rnet"
    assert(record.merge{net = "rnet", size = 12, inputs = {pos, part, neg, lmk}, output = out})
    ld = assert(loader.new{size = 12, classes = out, counts = {positive = 2, part = 1, negative = 3,
                                                             landmark = 0}})
    local b = assert(ld:next())
    assert.are.same({1, 1, -1, 0, 0, 0}, b.labels:to_table())
    ld:close()
  end)

  it("gives the same batches for any number of workers, and resumes at a step", function()
    local function run(workers, start, seed)
      local ld = assert(loader.new{size = 12, files = mixed, batch = 16, seed = seed or 4,
                                   workers = workers, start_step = start, jitter = true})
      local r = take(ld, 8)
      ld:close()
      return r
    end
    local ref = run(0)
    assert.are.same(ref, run(1))
    assert.are.same(ref, run(3))
    local resumed = run(2, 5)
    for k = 1, 4 do assert.are.same(ref[4 + k], resumed[k]) end
    assert.are.equal(5, resumed[1].step)
    assert.are_not.same(ref[1].rows, run(1, 1, 5)[1].rows)
  end)

  it("gives the same batches when the kernel threads make them ahead in pieces", function()
    -- with workers = 0 the batch after the one handed out is made by the kernel pool's
    -- workers between their jobs, in pieces of about 16 KB of records (29 rows at 12x12): a
    -- batch of 96 is four pieces, each drawing the random numbers of its own rows
    local function run(workers, threads)
      local was = mtcnn.sys.threads()
      mtcnn.sys.set_threads(threads)
      local ld = assert(loader.new{size = 12, files = {mixed, neg}, batch = 96, seed = 9,
                                   workers = workers, jitter = true, mirror = 0.5})
      local r = {}
      for k = 1, 5 do
        r[k] = take(ld, 1)[1]
        if k == 2 then mtcnn.sys.sleep(0.1) end -- the next batch is made while we wait
        if k == 3 then T.zeros{64, 64}:add(1) end -- and around a job of the pool
      end
      local stats = ld:wait_stats()
      ld:close()
      mtcnn.sys.set_threads(was)
      return r, stats
    end
    local ref = run(1, 2)
    local ahead, stats = run(0, 2)
    assert.are.same(ref, ahead)
    assert.are.equal(5, stats.taken)
    assert.is_true(stats.waited < 5, "the batch after the pause was ready")
    assert.are.same(ref, (run(0, 1)))
  end)

  it("mirrors positives and landmark faces with their targets, not part faces", function()
    local f = assert(record.open(mixed))
    local ld = assert(loader.new{size = 12, files = mixed, batch = 32, mirror = 1, workers = 0})
    local b = assert(ld:next())
    for r, p in ipairs(ld:provenance()) do
      local s = assert(f:get(p.index))
      local flip = s.label == 1 or s.label == -2
      assert.are.equal(flip, p.mirrored, "row " .. r)
      local img = flip and s.image:flip() or s.image
      assert.are.equal(0, b.images[r]:max_abs_diff(planes(img)))
      if flip then
        -- the marked pixels moved: blue (0, 0, 255) is now at x = 0
        helper.near(b.images[r][3][1][1], 127.5 / 128, 0)
      end
      local t = s.label == 1 and mirror_targets(s.target) or s.target
      local l = s.label == -2 and mirror_landmarks(s.landmarks) or s.landmarks
      near_list(b.boxes[r]:to_table(), t, 1e-7)
      near_list(b.landmarks[r]:to_table(), l, 1e-7)
    end
    ld:close()
    -- mirror_part: part faces too, with their targets
    ld = assert(loader.new{size = 12, files = mixed, batch = 32, mirror = 1, mirror_part = true,
                           workers = 0})
    b = assert(ld:next())
    for r, p in ipairs(ld:provenance()) do
      local s = assert(f:get(p.index))
      assert.are.equal(s.label ~= 0, p.mirrored)
      if s.label == -1 then near_list(b.boxes[r]:to_table(), mirror_targets(s.target), 1e-7) end
    end
    ld:close()
    -- probability 0.5 per eligible sample
    ld = assert(loader.new{size = 12, files = mixed, batch = 96, workers = 0, seed = 11})
    local eligible, flipped = 0, 0
    for _ = 1, 5 do
      assert(ld:next())
      for _, p in ipairs(ld:provenance()) do
        local s = assert(f:get(p.index))
        if s.label == 1 or s.label == -2 then
          eligible = eligible + 1
          if p.mirrored then flipped = flipped + 1 end
        else
          assert.is_false(p.mirrored)
        end
      end
    end
    assert.are.equal(240, eligible)
    assert.is_true(flipped > 0.4 * eligible and flipped < 0.6 * eligible, flipped .. " of 240")
    ld:close()
  end)

  it("jitters colours per sample on 8-bit values", function()
    local function first_batch(jitter, file, seed)
      local ld = assert(loader.new{size = 12, files = file or mixed, batch = 32, mirror = false,
                                   workers = 0, jitter = jitter, seed = seed or 1})
      local b = assert(ld:next())
      local x = b.images:clone()
      ld:close()
      return x
    end
    local plain = first_batch(false)
    -- zero ranges: exactly the plain batch
    assert.are.equal(0, plain:max_abs_diff(first_batch{brightness = 0, contrast = 0, saturation = 0, hue = 0}))
    local j = first_batch(true)
    assert.is_true(j:max_abs_diff(plain) > 0.05)
    assert.are.equal(0, j:max_abs_diff(first_batch(true)))           -- same seed, same jitter
    assert.is_true(j:max_abs_diff(first_batch(true, nil, 2)) > 0.05) -- another seed
    -- every value is an 8-bit level again
    local t = (j * 128 + 127.5):view(-1)
    for k = 1, t:numel(), 97 do
      local v = t[k]
      assert.is_true(v >= 0 and v <= 255 and math.abs(v - math.floor(v + 0.5)) < 1e-3, tostring(v))
    end
    -- brightness alone shifts the three channels of a pixel by the same amount (away from the
    -- clamps: colours within 80..180, shifts within +-51)
    local mid = dir .. "/mid.rec"
    local w = assert(record.writer(mid, {size = 12}))
    for i = 1, 32 do assert(w:add{image = image.new(12, 12, {80 + 3 * i, 130, 180 - 2 * i}), label = 1}) end
    assert(w:close())
    local d = (first_batch({brightness = 0.2, contrast = 0, saturation = 0, hue = 0}, mid)
               - first_batch(false, mid)) * 128
    local shifts = {}
    for r = 1, 32 do
      local dr, dg, db = d[r][1][6][6], d[r][2][6][6], d[r][3][6][6]
      assert.is_true(math.abs(dr - dg) <= 1 and math.abs(dg - db) <= 1, dr .. " " .. dg .. " " .. db)
      assert.is_true(math.abs(dg) <= 51.5)
      shifts[math.floor(dg + 0.5)] = true
    end
    assert.is_true(next(shifts, next(shifts)) ~= nil) -- not one shift for every sample
    -- saturation and hue leave grey pixels grey
    local grey = dir .. "/grey.rec"
    w = assert(record.writer(grey, {size = 12}))
    for i = 1, 32 do assert(w:add{image = image.new(12, 12, {4 * i, 4 * i, 4 * i}), label = 0}) end
    assert(w:close())
    local g = first_batch({brightness = 0, contrast = 0, saturation = 0.5, hue = 0.2}, grey) * 128
    local g0 = first_batch(false, grey) * 128
    assert.is_true(g:max_abs_diff(g0) <= 1.0001)
  end)

  it("frees a batch at the next call and never overwrites data still referenced", function()
    local ld = assert(loader.new{size = 12, files = mixed, batch = 16, workers = 1, slots = 2})
    local b = assert(ld:next())
    local kept = b.images:narrow(1, 1, 2) -- a view of the ring's buffer
    local copy = kept:clone()
    local labels = b.labels
    for _ = 1, 6 do assert(ld:next()) end
    assert.has_error(function() return labels:sum() end, "bad argument #1: the tensor was freed")
    assert.has_error(function() return b.images:sum() end)
    assert.are.equal(0, kept:max_abs_diff(copy)) -- the ring took a new buffer instead
    ld:close()
    assert.are.equal(0, kept:max_abs_diff(copy))
    assert.has_error(function() ld:next() end)
  end)

  it("counts the batches next() had to wait for", function()
    local ld = assert(loader.new{size = 12, files = mixed, batch = 16, workers = 0})
    for _ = 1, 3 do assert(ld:next()) end
    local s = ld:wait_stats()
    assert.are.equal(3, s.taken)
    assert.is_true(s.waited >= 1) -- the first is made on the spot, the others made ahead
    ld:close()
    ld = assert(loader.new{size = 12, files = mixed, batch = 16, workers = 1, slots = 4})
    assert(ld:next())
    mtcnn.sys.sleep(0.2) -- the worker fills the ring meanwhile
    local before = ld:wait_stats()
    for _ = 1, 3 do assert(ld:next()) end
    local after = ld:wait_stats()
    assert.are.equal(before.taken + 3, after.taken)
    assert.are.equal(before.waited, after.waited)
    ld:close()
  end)

  it("can be created and dropped repeatedly", function()
    for i = 1, 25 do
      local ld = assert(loader.new{size = 12, files = mixed, batch = 16, workers = 1 + i % 3,
                                   slots = 1 + i % 4, jitter = i % 2 == 0})
      for _ = 1, i % 4 do assert(ld:next()) end
      if i % 2 == 0 then ld:close() end
      ld = nil -- luacheck: ignore
      if i % 5 == 0 then collectgarbage() end
    end
    collectgarbage()
    collectgarbage()
    do
      local ld <close> = assert(loader.new{size = 12, files = mixed, batch = 16})
      assert(ld:next())
    end
  end)

  it("reports damaged and unsuitable files", function()
    local bad = F.write(dir .. "/bad.rec", 32, nil, {block = 4})
    F.poke(bad, F.offset(10, 12, 4) + 20, "\0\0\0")
    for _, workers in ipairs({1, 0}) do
      local ld = assert(loader.new{size = 12, files = bad, batch = 32, workers = workers})
      for _ = 1, 2 do -- the second batch is made ahead with workers = 0
        local b, err = ld:next()
        assert.is_nil(b)
        assert.matches("bad.rec: sample %d+ lies in block 2 %(samples 8..11%), which fails its checksum", err)
      end
      ld:close()
    end
    local _
    _, err = loader.new{size = 24, files = mixed}
    assert.matches("mixed.rec: holds 12x12 samples, expected 24x24", err, 1, true)
    _, err = loader.new{size = 12, files = pos, batch = 64}
    assert.matches("holds 30 samples, fewer than the 64 each batch takes from it", err, 1, true)
    _, err = loader.new{size = 12, classes = {positive = mixed, part = part, negative = neg, landmark = lmk}}
    assert.matches("mixed.rec: given as the positive file but holds 24 positive, 24 part, 24 "
      .. "negative and 24 landmark samples", err, 1, true)
    _, err = loader.new{size = 12, files = dir .. "/none.rec"}
    assert.matches("none.rec: cannot open", err, 1, true)
    assert.has_error(function() loader.new{files = mixed} end)
    assert.has_error(function() loader.new{size = 12, files = mixed, batch = 16, jitter = 3} end)
    assert.has_error(function() loader.new{size = 12, files = mixed, batch = 16, jitter = {hue = 2}} end)
    assert.has_error(function() loader.new{size = 12, files = mixed, batch = 16, mirror = 2} end)
    assert.has_error(function() loader.new{size = 12, files = mixed, batch = 16, device = "tpu"} end)
    assert.has_error(function() loader.new{size = 12, files = mixed, batch = 16, workers = -1} end)
  end)

  it("feeds a training step of the net", function()
    local files = {}
    for cls, label in pairs(record.labels) do
      files[cls] = F.write(dir .. "/" .. cls .. "24.rec", 30, {label}, {size = 24})
    end
    local ld = assert(loader.new{net = "rnet", classes = files, batch = 24, workers = 1})
    local net = mtcnn.models.rnet{seed = 1}
    local crit = mtcnn.nn.MTCNNLoss{net = "rnet"}
    net:training()
    for _ = 1, 2 do
      local b = assert(ld:next())
      net:zero_grad()
      local out = net:forward(b.images)
      local loss = crit:forward(out, b.target)
      assert.is_true(loss == loss and loss > 0)
      assert.are.equal(4, crit.stats.n_landmarks)
      assert.are.equal(8, crit.stats.n_box)
      net:backward(b.images, crit:backward(out, b.target))
    end
    ld:close()
  end)
end)

describe("mtcnn.loader on the GPU #gpu", function()
  it("places batches on the device", function()
    helper.need_gpu()
    local dir = helper.tmpdir()
    local path = F.write(dir .. "/g.rec", 64)
    local cpu = assert(loader.new{size = 12, files = path, batch = 32, seed = 3})
    local gpu = assert(loader.new{size = 12, files = path, batch = 32, seed = 3, device = "cuda"})
    for _ = 1, 3 do
      local a, b = assert(cpu:next()), assert(gpu:next())
      for _, k in ipairs({"images", "labels", "boxes", "landmarks"}) do
        assert.are.equal("cuda", b[k]:device())
        assert.are.equal(0, a[k]:max_abs_diff(b[k]:cpu()))
      end
      assert.are.equal("cuda", b.target.label:device())
    end
    cpu:close()
    gpu:close()
    helper.rmdir(dir)
  end)
end)

-- MTCNN crop sampling (docs/design.md, 'Sample generation', 'Landmark samples'): labels
-- agree with the IoU thresholds, targets reconstruct the faces, pixels are the crops, landmark
-- targets follow mirrored and rotated pixels, runs repeat for a seed.
local helper = require "helper"
local mtcnn = require "mtcnn"
local image, box, sample, T = mtcnn.image, mtcnn.box, mtcnn.sample, mtcnn.tensor

-- a textured picture, so that different crops have different pixels
local function texture(w, h, seed)
  local img = image.new(w, h)
  local g = T.generator(seed or 1)
  for y = 0, h - 1, 4 do
    for x = 0, w - 1, 4 do
      img:draw_rect(x, y, x + 3, y + 3, {color = {g:integer(0, 255), g:integer(0, 255), g:integer(0, 255)}, fill = true})
    end
  end
  return img
end

local function row(t, i) return t:select(1, i):to_table() end

-- max IoU of a crop with the faces, recomputed here
local function max_iou(crop, faces)
  if #faces == 0 then return 0 end
  local best = 0
  for _, o in ipairs(box.iou(crop, faces)) do best = math.max(best, o) end
  return best
end

-- checks every invariant of a detection sample set; returns per-label counts
local function check_detection(r, img, faces, opts)
  opts = opts or {}
  local counts = {[1] = 0, [0] = 0, [-1] = 0}
  for i = 1, r.count do
    local label = r.labels[i]
    local b = row(r.boxes, i)
    local side = b[3] - b[1] + 1
    assert.are.equal(side, b[4] - b[2] + 1, "crops are square")
    assert.is_true(b[1] >= 0 and b[2] >= 0 and b[3] < img.width and b[4] < img.height, "crop inside the image")
    local m = max_iou(b, faces)
    helper.near(r.iou[i], m, 1e-6, "stored iou")
    counts[label] = counts[label] + 1
    if label == 0 then
      assert.is_true(m < 0.3, "a negative overlaps a face by " .. m)
      assert.is_true(side >= 12)
      assert.are.same({0, 0, 0, 0}, row(r.targets, i))
    else
      assert.is_true(label == 1 or label == -1, "label " .. label)
      if label == 1 then assert.is_true(m >= 0.65) else assert.is_true(m >= 0.4 and m < 0.65) end
      -- the target points from the crop to the face it overlaps most
      local f = faces[r.faces[i]]
      helper.near(box.iou(b, {f})[1], m, 1e-6, "target face is the best face")
      local back = sample.reconstruct(r, i)
      for k = 1, 4 do helper.near(back[k], f[k], 1e-4, "reconstructed face") end
    end
    assert.are.same({0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, row(r.landmarks, i))
  end
  assert.are.equal(counts[1], r.counts.positive)
  assert.are.equal(counts[0], r.counts.negative)
  assert.are.equal(counts[-1], r.counts.part)
  assert.are.equal(r.count * r.size, r.images.height)
  return counts
end

describe("detection samples", function()
  local img = texture(320, 240)
  local faces = {{40, 30, 99, 109}, {200, 100, 259, 159}, {10, 200, 24, 214}}

  it("label crops by the seed's IoU thresholds and reconstruct the faces", function()
    local r = sample.detection(img, faces, {seed = 1})
    local c = check_detection(r, img, faces)
    assert.is_true(c[1] > 5 and c[-1] > 5 and c[0] >= 50, ("%d pos %d part %d neg"):format(c[1], c[-1], c[0]))
    -- 50 random negatives (face 0), at most 5 near-face ones per large face
    local random, near = 0, {0, 0, 0}
    for i = 1, r.count do
      if r.labels[i] == 0 then
        local f = r.faces[i]
        if f == 0 then random = random + 1 else near[f] = near[f] + 1 end
      end
    end
    assert.are.equal(50, random)
    assert.is_true(near[1] <= 5 and near[2] <= 5)
    -- the 15-pixel face is below min_face: it seeds nothing
    for i = 1, r.count do
      if r.labels[i] ~= 0 then assert.are_not.equal(3, r.faces[i]) end
    end
    assert.are.equal(0, near[3])
  end)

  it("cuts each sample from its box with bilinear resizing", function()
    local r = sample.detection(img, faces, {seed = 2, size = 12})
    local tiles = sample.images(r)
    assert.are.equal(r.count, #tiles)
    for _, i in ipairs({1, 2, r.count // 2, r.count}) do
      local b = row(r.boxes, i)
      local want = img:crop(b[1], b[2], b[3], b[4]):resize(12, 12, "bilinear")
      assert.is_true(tiles[i] == want, "sample " .. i)
    end
    local r24 = sample.detection(img, faces, {seed = 2, size = 24, method = "area"})
    assert.are.equal(24, r24.images.width)
    local b = row(r24.boxes, 3)
    assert.is_true(sample.images(r24)[3] == img:crop(b[1], b[2], b[3], b[4]):resize(24, 24, "area"))
  end)

  it("repeats for a seed and changes with it", function()
    local a = sample.detection(img, faces, {seed = 11})
    local b = sample.detection(img, faces, {seed = 11})
    local c = sample.detection(img, faces, {seed = 12})
    assert.are.equal(a.images:checksum(), b.images:checksum())
    assert.is_true(a.boxes:equal(b.boxes) and a.targets:equal(b.targets))
    assert.are_not.equal(a.images:checksum(), c.images:checksum())
    -- a generator continues its stream; the thread count does not matter
    local n = mtcnn.sys.threads()
    mtcnn.sys.set_threads(1)
    local d = sample.detection(img, faces, {generator = T.generator(11, 54)})
    mtcnn.sys.set_threads(n)
    assert.is_true(d.boxes:equal(a.boxes))
    assert.are.equal(a.images:checksum(), d.images:checksum())
  end)

  it("takes every number as a parameter", function()
    local r = sample.detection(img, faces, {seed = 3, neg_count = 7, near_neg_tries = 0, pos_tries = 0})
    assert.are.equal(7, r.count)
    r = sample.detection(img, faces, {seed = 3, neg_count = 0, near_neg_tries = 0, pos_tries = 40,
                                      pos_iou = 0.8, part_iou = 0.5})
    for i = 1, r.count do
      if r.labels[i] == 1 then assert.is_true(r.iou[i] >= 0.8) else assert.is_true(r.iou[i] >= 0.5 and r.iou[i] < 0.8) end
    end
    -- the small face seeds crops once min_face allows it
    r = sample.detection(img, faces, {seed = 3, neg_count = 0, min_face = 10})
    local from3 = 0
    for i = 1, r.count do if r.faces[i] == 3 then from3 = from3 + 1 end end
    assert.is_true(from3 > 0)
    -- faces may be excluded from seeding (e.g. WIDER's invalid ones)
    r = sample.detection(img, faces, {seed = 3, neg_count = 0, seeds = {false, true, true}})
    for i = 1, r.count do assert.are_not.equal(1, r.faces[i]) end
    assert.has_error(function() sample.detection(img, faces, {sede = 1}) end, "sample: unknown option 'sede'")
    assert.has_error(function() sample.detection(img, faces, {size = 0}) end)
    assert.has_error(function() sample.detection(img, faces, {part_iou = 0.9}) end)
    assert.has_error(function() sample.detection(img, faces, {seeds = {true}}) end)
    local d = sample.defaults()
    assert.are.same({12, 50, 0.3, 20, 5, 20, 0.8, 1.25, 0.2, 0.65, 0.4, 40, 10, 5},
      {d.size, d.neg_count, d.neg_iou, d.min_face, d.near_neg_tries, d.pos_tries, d.side_lo,
       d.side_hi, d.jitter, d.pos_iou, d.part_iou, d.lmk_min_face, d.lmk_shift_tries, d.lmk_angle})
    assert.are.equal("bilinear", d.method)
  end)

  it("mirrors samples together with their targets on request (the seed's bug fixed)", function()
    local r = sample.detection(img, faces, {seed = 9, mirror_p = 1})
    local tiles = sample.images(r)
    local mirrored = 0
    for i = 1, r.count do
      local b = row(r.boxes, i)
      local plain = img:crop(b[1], b[2], b[3], b[4]):resize(12, 12, "bilinear")
      if r.labels[i] == 0 then
        assert.are.equal(0, r.aug[i])
        assert.is_true(tiles[i] == plain)
      else
        assert.are.equal(1, r.aug[i])
        mirrored = mirrored + 1
        assert.is_true(tiles[i] == plain:flip())
        -- the target now points at the face as it appears in the mirrored crop
        local f = faces[r.faces[i]]
        local want = {b[1] + b[3] - f[3], f[2], b[1] + b[3] - f[1], f[4]}
        local got = sample.reconstruct(r, i)
        for k = 1, 4 do helper.near(got[k], want[k], 1e-4) end
      end
    end
    assert.is_true(mirrored > 10)
    -- by default nothing is mirrored and the random stream is the seed's
    local a, b = sample.detection(img, faces, {seed = 9}), sample.detection(img, faces, {seed = 9, mirror_p = 0})
    assert.is_true(a.boxes:equal(b.boxes))
    for i = 1, a.count do assert.are.equal(0, a.aug[i]) end
  end)

  it("labels by the seeding face alone on request (the seed's way)", function()
    -- two overlapping faces: crops seeded by one may match the other better
    local close = {{100, 60, 159, 119}, {130, 60, 189, 119}}
    local all = sample.detection(img, close, {seed = 5, neg_count = 0})
    check_detection(all, img, close)
    local own = sample.detection(img, close, {seed = 5, neg_count = 0, label_by_all_faces = false})
    local differs = false
    for i = 1, own.count do
      if own.labels[i] ~= 0 then
        local f = close[own.faces[i]]
        helper.near(box.iou(row(own.boxes, i), {f})[1], own.iou[i], 1e-6)
        if own.iou[i] < max_iou(row(own.boxes, i), close) - 1e-9 then differs = true end
      end
    end
    assert.is_true(differs)
  end)

  it("copes with images without faces and with small images", function()
    local r = sample.detection(img, {}, {seed = 1})
    assert.are.equal(50, r.count)
    check_detection(r, img, {})
    local small = texture(20, 20)
    r = sample.detection(small, {{2, 2, 17, 17}}, {seed = 1})
    assert.are.equal(0, r.counts.negative) -- sides would have to be in [12, 10)
    check_detection(r, small, {{2, 2, 17, 17}})
    local t = sample.detection(img, T.tensor(faces), {seed = 1})
    assert.are.equal(sample.detection(img, faces, {seed = 1}).count, t.count)
  end)
end)

describe("landmark samples", function()
  -- five coloured dots where the landmarks are; the colour of point i
  local COLOURS = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {255, 0, 255}}
  local function weight(i, r, g, b)
    if i == 1 then return r - math.max(g, b) end
    if i == 2 then return g - math.max(r, b) end
    if i == 3 then return b - math.max(r, g) end
    if i == 4 then return math.min(r, g) - b end
    return math.min(r, b) - g
  end
  -- the centroid of colour i in a sample, in sample pixel coordinates
  local function centroid(tile, i)
    local sx, sy, sw = 0, 0, 0
    for y = 0, tile.height - 1 do
      for x = 0, tile.width - 1 do
        local w = weight(i, tile:get(x, y))
        if w > 40 then sx, sy, sw = sx + w * x, sy + w * y, sw + w end
      end
    end
    return sx / sw, sy / sw
  end

  local img = image.new(240, 200, {30, 30, 30})
  local pts = {95, 145, 120, 100, 140, 90, 92, 118, 150, 147} -- x1..x5, y1..y5
  for i = 1, 5 do img:draw_circle(pts[i], pts[5 + i], 4, {color = COLOURS[i]}) end
  local face = {70, 60, 169, 169}

  it("put every target on its dot: plain, shifted, mirrored and rotated", function()
    local S = 48
    local r = sample.landmarks(img, face, pts, {seed = 4, size = S, lmk_mirror_p = 1, lmk_rotate_p = 1})
    assert.is_true(r.count >= 6)
    local tiles = sample.images(r)
    local kinds = {}
    for k = 1, r.count do
      assert.are.equal(-2, r.labels[k])
      local u = row(r.landmarks, k)
      local aug = r.aug[k]
      kinds[aug] = true
      -- after a mirror the left point is the right dot, and so on
      local dot = (aug & 1) == 1 and {2, 1, 3, 5, 4} or {1, 2, 3, 4, 5}
      for i = 1, 5 do
        assert.is_true(u[i] > 0 and u[i] < 1 and u[5 + i] > 0 and u[5 + i] < 1)
        local cx, cy = centroid(tiles[k], dot[i])
        -- the target in sample pixels: u * S - 0.5 (the centre convention)
        local tx, ty = u[i] * S - 0.5, u[5 + i] * S - 0.5
        assert.is_true(math.abs(cx - tx) < 1 and math.abs(cy - ty) < 1,
          ("sample %d (aug %d) point %d: dot at %.2f,%.2f, target %.2f,%.2f"):format(k, aug, i, cx, cy, tx, ty))
      end
      helper.near(r.iou[k], box.iou(row(r.boxes, k), {face})[1], 1e-6)
    end
    -- plain, mirrored, rotated both ways and their mirrors all appeared
    for _, a in ipairs({0, 1, 2, 3, 4, 5}) do assert.is_true(kinds[a], "aug " .. a) end
    -- the first sample is the plain face crop
    assert.are.same(face, row(r.boxes, 1))
  end)

  it("cut rotated samples as the whole rotated crop resized (only the pixels read are rotated)", function()
    local photo = image.new(240, 200)
    for y = 0, 199, 3 do
      for x = 0, 239, 5 do photo:set(x, y, {(x * 7 + y) % 256, (x * y) % 256, (3 * y) % 256}) end
    end
    for _, S in ipairs({12, 24, 48}) do
      local r = sample.landmarks(photo, face, pts, {seed = 9, size = S, lmk_rotate_p = 1, lmk_mirror_p = 0})
      local tiles, rotated = sample.images(r), 0
      for k = 1, r.count do
        local aug = r.aug[k]
        if aug & 6 ~= 0 then
          rotated = rotated + 1
          local b = row(r.boxes, k)
          local m = image.rotation_matrix((b[1] + b[3]) / 2, (b[2] + b[4]) / 2, aug & 2 ~= 0 and 5 or -5)
          m[3], m[6] = m[3] - b[1], m[6] - b[2]
          local patch = photo:warp_affine(m, b[3] - b[1] + 1, b[4] - b[2] + 1)
          local want = patch:resize(S, S, "bilinear")
          if aug & 1 ~= 0 then want = want:flip() end
          assert.is_true(tiles[k] == want, ("size %d sample %d"):format(S, k))
        end
      end
      assert.is_true(rotated >= 4)
    end
  end)

  it("follows the seed's probabilities and skips small faces", function()
    local n, plain = 0, 0
    for seed = 1, 20 do
      local r = sample.landmarks(img, face, pts, {seed = seed, size = 24})
      n = n + r.count
      plain = plain + 1
      assert.is_true(r.count <= 1 + 10 * 6)
      for k = 1, r.count do
        local u = row(r.landmarks, k)
        for _, v in ipairs(u) do assert.is_true(v > 0 and v < 1) end
      end
    end
    -- per kept shifted crop 1 + 0.5 + 2 * 0.5 * 2 = 3.5 samples on average
    assert.is_true(n > plain + 20 * 3 * 2.5, "samples " .. n)
    local none = sample.landmarks(img, {100, 100, 130, 130}, pts, {seed = 1})
    assert.are.equal(0, none.count)
    local r = sample.landmarks(img, face, pts, {seed = 1, lmk_plain = false, lmk_shift_tries = 0})
    assert.are.equal(0, r.count)
    assert.has_error(function() sample.landmarks(img, face, {1, 2, 3}, {}) end)
  end)
end)

describe("sampling the shared WIDER images", function()
  it("keeps its invariants over real faces", function()
    helper.need_shared("WIDER FACE")
    local data = mtcnn.data
    local root = helper.shared .. "/data/wider"
    local set = assert(data.read_wider(root .. "/wider_face_split/wider_face_train_bbx_gt.subset.txt",
                                       {images = root .. "/WIDER_train/images"}))
    local totals = {[1] = 0, [0] = 0, [-1] = 0}
    local step = math.max(1, #set // 12)
    local images = 0
    for i = 1, #set, step do
      local e = set[i]
      local img = assert(image.load(e.path))
      local r = sample.detection(img, e.faces, {seed = i})
      local c = check_detection(r, img, e.faces)
      for k, v in pairs(c) do totals[k] = totals[k] + v end
      images = images + 1
    end
    assert.is_true(images >= 10)
    assert.is_true(totals[0] >= 50 * images)
    assert.is_true(totals[1] > images and totals[-1] > images,
      ("%d positives, %d parts in %d images"):format(totals[1], totals[-1], images))
  end)

  it("makes landmark samples of the shared landmark set", function()
    helper.need_shared("the landmark set")
    local root = helper.shared .. "/data/landmarks"
    local set = assert(mtcnn.data.read_landmarks(root .. "/trainImageList.txt", {images = root}))
    local total = 0
    for i = 1, #set, #set // 8 do
      local e = set[i]
      local img = assert(image.load(e.path))
      local r = sample.landmarks(img, e.box, e.points, {seed = i, size = 48})
      total = total + r.count
      for k = 1, r.count do
        for _, v in ipairs(row(r.landmarks, k)) do assert.is_true(v > 0 and v < 1) end
      end
    end
    assert.is_true(total > 8 * 2)
  end)
end)

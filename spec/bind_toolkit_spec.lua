-- The binding toolkit (lua/bind/lmt.h) as Lua sees it: every enum parsed by one parser (the
-- NMS overlaps spelled alike by box.nms and the detector's NMS), released handles that raise
-- "<type> was freed/closed", the three forms of rows every reader takes (a table of rows, one
-- row, a tensor) with the same results, and errors that name a bad option field.

local helper = require "helper"
local mtcnn = require "mtcnn"
local core = require "mtcnn.core"

local T, box, image, sample = mtcnn.tensor, mtcnn.box, mtcnn.image, mtcnn.sample

-- The message of the error f raises.
local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

-- A picture with some structure, for the image readers.
local function ramp(w, h)
  local img = image.new(w, h)
  for y = 0, h - 1 do
    for x = 0, w - 1 do img:set(x, y, (7 * x) % 256, (11 * y) % 256, (x * y) % 256) end
  end
  return img
end

describe("binding toolkit: enums", function()
  local boxes = {{0, 0, 9, 9, 0.9}, {2, 2, 11, 11, 0.8}, {1, 1, 5, 5, 0.7}, {20, 20, 29, 29, 0.6}}

  -- Candidate windows of a 4x4 PNet map (12x12 windows two pixels apart: they overlap).
  local function candidates()
    local g = T.generator(7)
    local prob, reg = T.zeros(1, 2, 4, 4), T.zeros(1, 4, 4, 4)
    prob:narrow(2, 2, 1):uniform_(0.5, 1, g)
    local c = core.detect.candidates()
    c:add_pnet(prob, reg, 1, 0.0)
    return c
  end

  it("accepts the same NMS spellings in box.nms, box.iou and the detector's NMS", function()
    local before = candidates():boxes()
    for _, spellings in ipairs({{"union", "Union"}, {"min", "Min"}}) do
      local want = box.nms(boxes, 0.3, spellings[1])
      local want_iou = box.iou(boxes[1], boxes, spellings[1])
      local kept = box.nms(before, 0.4, spellings[1])
      for _, s in ipairs(spellings) do
        assert.are.same(want, box.nms(boxes, 0.3, s))
        assert.are.same(want_iou, box.iou(boxes[1], boxes, s))
        local c = candidates()
        c:nms(0.4, s)
        assert.are.equal(#kept, c:size())
        assert.are.equal(0, c:boxes():max_abs_diff(box.select(before, kept)))
      end
    end
    assert.are_not.same(box.nms(boxes, 0.3, "union"), box.nms(boxes, 0.3, "min"))
    assert.are.same(box.nms(boxes, 0.3, "union"), box.nms(boxes, 0.3)) -- the default
  end)

  it("rejects other spellings with the same message everywhere", function()
    local expected = "\"union\" or \"min\" expected, got 'max'"
    assert.matches(expected, error_of(box.nms, boxes, 0.3, "max"), 1, true)
    assert.matches(expected, error_of(box.iou, boxes[1], boxes, "max"), 1, true)
    local c = candidates()
    assert.matches(expected, error_of(c.nms, c, 0.4, "max"), 1, true)
    assert.matches("bad argument #3", error_of(box.nms, boxes, 0.3, "UNION"), 1, true)
  end)

  it("parses the other enums by the same rules", function()
    local img = ramp(16, 12)
    assert.is_true(img:resize(8, 6, "area") == img:resize(8, 6, {method = "area"}))
    assert.matches("\"area\" or \"bilinear\" expected, got 'cubic'",
      error_of(img.resize, img, 8, 6, "cubic"), 1, true)
    assert.are.equal(img:encode("jpg"), img:encode("jpeg")) -- aliases
    assert.matches("\"jpg\" or \"png\" expected, got 'gif'", error_of(img.encode, img, "gif"), 1, true)
    assert.are.same(box.square(boxes, "rerec"), box.square(boxes, {mode = "rerec"}))
    assert.matches("\"rerec\" or \"inclusive\" expected, got 'round'",
      error_of(box.square, boxes, "round"), 1, true)
    assert.are.equal("cpu", T.zeros({2, device = "cpu"}):device())
    assert.matches("bad field 'device'", error_of(T.zeros, {2, device = "tpu"}), 1, true)
    assert.are.same({0, 255, 0}, {image.new(1, 1, "green"):get(0, 0)})
    assert.are.same({128, 128, 128}, {image.new(1, 1, "gray"):get(0, 0)})
    assert.are.same({128, 128, 128}, {image.new(1, 1, "grey"):get(0, 0)})
  end)
end)

describe("binding toolkit: released handles", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  local function record_file(name, count)
    local w = assert(core.record.writer(dir .. "/" .. name, {size = 12}))
    for i = 1, count do
      assert(w:add{image = image.new(12, 12, {i, i, i}), label = i % 2 == 0 and 0 or 1})
    end
    assert(w:close())
    return assert(core.record.open(dir .. "/" .. name))
  end

  it("raise '<type> was freed' or '... was closed' once released, and release twice harmlessly", function()
    local t = T.zeros(2)
    t:free()
    assert.matches("bad argument #1: the tensor was freed", error_of(t.sum, t), 1, true)
    t:free()

    local img = image.new(2, 2)
    img:free()
    assert.matches("bad argument #1: the image was freed", error_of(img.size, img), 1, true)

    local f = record_file("a.rec", 4)
    f:close()
    assert.matches("bad argument #1: the record file was closed", error_of(f.get, f, 1), 1, true)
    assert.matches("bad argument #1: the record file was closed", error_of(function() return f.count end), 1, true)
    f:close()

    local w = assert(core.record.writer(dir .. "/b.rec", {size = 12}))
    w:abort()
    assert.matches("bad argument #1: the record writer was closed", error_of(w.count, w), 1, true)
    w = assert(core.record.writer(dir .. "/c.rec", {size = 12}))
    assert(w:close())
    assert.matches("bad argument #1: the record writer was closed", error_of(w.commit, w), 1, true)

    local g = record_file("d.rec", 8)
    local plan = core.record.merge_plan({g}, {})
    do local p <close> = plan end
    assert.matches("bad argument #1: the merge plan was freed", error_of(plan.size, plan, 1), 1, true)

    local ld = core.loader.new{size = 12, streams = {{files = {g}, count = 4}}, workers = 0}
    ld:close()
    assert.matches("bad argument #1: the loader was closed", error_of(ld.next, ld), 1, true)
    ld:close()

    local p = core.plan.new(1)
    p:free()
    assert.matches("bad argument #1: the plan was freed", error_of(p.heads, p), 1, true)
    g:close()
  end)

  it("closes handles that go out of scope as to-be-closed variables", function()
    local kept
    do
      local t <close> = T.zeros(2)
      local img <close> = image.new(2, 2)
      local p <close> = core.plan.new(1)
      kept = {t, img, p}
    end
    assert.is_false(T.is_tensor(kept[1]))
    assert.matches("the image was freed", error_of(kept[2].size, kept[2]), 1, true)
    assert.matches("the plan was freed", error_of(kept[3].heads, kept[3]), 1, true)
  end)
end)

describe("binding toolkit: rows of numbers", function()
  -- f(form) for the three forms of the same rows; every result must equal the first.
  local function same_for_forms(rows, f, eq)
    local results = {f(rows), f(T.tensor(rows))}
    if #rows == 1 then
      results[#results + 1] = f(rows[1]) -- one row
      results[#results + 1] = f(T.tensor(rows[1])) -- a 1-d tensor
    end
    for i = 2, #results do eq(results[1], results[i], i) end
    return results[1]
  end
  local function same_table(a, b, i)
    if T.is_tensor(b) then b = b:to_table() end
    if T.is_tensor(a) then a = a:to_table() end
    if type(a[1]) == "number" and type(b[1]) == "table" then a = {a} end
    if type(b[1]) == "number" and type(a[1]) == "table" then b = {b} end
    for r = 1, #a do
      if type(a[r]) == "table" then
        for k = 1, #a[r] do helper.near(a[r][k], b[r][k], 1e-5, "form " .. i) end
      else
        helper.near(a[r], b[r], 1e-5, "form " .. i)
      end
    end
  end
  local function same_tensor(a, b, i) assert.are.equal(0, a:max_abs_diff(b), "form " .. i) end
  local function same_image(a, b, i) assert.is_true(a == b, "form " .. i) end

  it("box geometry takes every form and answers in it", function()
    same_for_forms({{1.5, 2.5, 30.5, 20.5}}, box.fix, same_table)
    same_for_forms({{1.5, 2.5, 30.5, 20.5}, {4, 4, 9, 19}}, box.square, same_table)
    same_for_forms({{0, 0, 9, 9}}, function(b) return box.iou(b, {{5, 5, 14, 14}}) end, same_table)
    same_for_forms({{0, 0, 9, 9}, {4, 4, 13, 13}}, function(b) return box.iou({0, 0, 9, 9}, b) end, same_table)
    same_for_forms({{0, 0, 9, 9, 0.5}, {1, 1, 10, 10, 0.9}}, function(b) return box.nms(b, 0.3) end,
      assert.are.same)
    local scores = {0.2, 0.9}
    assert.are.same(box.nms({{0, 0, 9, 9}, {20, 20, 29, 29}}, 0.3, "union", scores),
      box.nms({{0, 0, 9, 9}, {20, 20, 29, 29}}, 0.3, "union", T.tensor(scores)))
    assert.is_true(T.is_tensor(box.fix(T.tensor{{1.5, 2, 3, 4}})))
    assert.are.same({1, 2, 3, 4}, box.fix({1.5, 2, 3, 4})) -- one row in, one row out
    assert.are.same({{1, 2, 3, 4}}, box.fix({{1.5, 2, 3, 4}}))
  end)

  it("image readers take every form of boxes, points and matrices", function()
    local img = ramp(40, 30)
    same_for_forms({{2, 3, 21, 25}}, function(b) return img:crop_resize(b, 12) end, same_tensor)
    same_for_forms({{2, 3, 21, 25}, {0, 0, 39, 29}}, function(b) return img:crop_resize(b, {8, 6}) end,
      same_tensor)
    local m = {1, 0.1, 2, -0.1, 1, 3}
    same_for_forms({{1, 2}, {3, 4}}, function(p) return image.transform_points(m, p) end, same_table)
    same_for_forms({{1, 2}}, function(p) return image.transform_points(m, p) end, same_table)
    -- a matrix: 6 numbers, 2 rows of 3, or a tensor of either shape
    local want = img:warp_affine(m, 20, 15)
    same_image(want, img:warp_affine({{1, 0.1, 2}, {-0.1, 1, 3}}, 20, 15), 2)
    same_image(want, img:warp_affine(T.tensor{{1, 0.1, 2}, {-0.1, 1, 3}}, 20, 15), 3)
    same_image(want, img:warp_affine(T.tensor(m), 20, 15), 4)
    -- landmarks: five {x, y} pairs, or ten planar numbers in a table or a tensor
    local pairs5 = {{12, 10}, {26, 10}, {19, 16}, {14, 22}, {25, 22}}
    local planar = {12, 26, 19, 14, 25, 10, 10, 16, 22, 22}
    local a = img:align_face(pairs5, {size = 16})
    same_image(a, img:align_face(planar, {size = 16}), 2)
    same_image(a, img:align_face(T.tensor(planar), {size = 16}), 3)
    local src, dst = {{0, 0}, {10, 0}, {0, 10}}, {{1, 1}, {21, 1}, {1, 21}}
    same_table(image.similarity(src, dst), image.similarity(T.tensor(src), T.tensor(dst)), 2)
  end)

  it("sampling takes every form of faces and of a landmark face's box and points", function()
    local img = ramp(64, 48)
    local opts = {seed = 3, neg_count = 4, pos_tries = 4, near_neg_tries = 2, size = 12}
    local function run(faces) return sample.detection(img, faces, opts) end
    local results = {run({{10, 8, 40, 38}}), run({10, 8, 40, 38}), run(T.tensor{{10, 8, 40, 38}}),
      run(T.tensor{10, 8, 40, 38})}
    for i = 2, #results do
      assert.are.equal(results[1].count, results[i].count, "form " .. i)
      assert.is_true(results[1].images == results[i].images, "form " .. i)
      assert.are.equal(0, results[1].targets:max_abs_diff(results[i].targets), "form " .. i)
    end
    local pts = {15, 30, 22, 17, 28, 18, 18, 25, 32, 32}
    local lopts = {seed = 5, size = 12}
    local a = sample.landmarks(img, {10, 8, 40, 38}, pts, lopts)
    local b = sample.landmarks(img, T.tensor{10, 8, 40, 38}, T.tensor(pts), lopts)
    assert.are.equal(a.count, b.count)
    assert.are.equal(0, a.landmarks:max_abs_diff(b.landmarks))
  end)

  it("record fields, evaluation lists and assignment weights read the same from tables and tensors", function()
    local dir = helper.tmpdir()
    local w = assert(core.record.writer(dir .. "/r.rec", {size = 12}))
    local target, lmk = {0.1, -0.2, 0.3, -0.4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
    assert(w:add{image = image.new(12, 12), label = -2, target = target, landmarks = lmk})
    assert(w:add{image = image.new(12, 12), label = -2, target = T.tensor(target), landmarks = T.tensor(lmk)})
    assert(w:close())
    local f = assert(core.record.open(dir .. "/r.rec"))
    local s1, s2 = assert(f:get(1)), assert(f:get(2))
    assert.are.same(s1.target, s2.target)
    assert.are.same(s1.landmarks, s2.landmarks)
    f:close()
    helper.rmdir(dir)

    local gt, pred = {0, 0, 10, 10, 20, 20, 5, 5}, {1, 1, 10, 10}
    local best, ov = core.eval.wider_match(gt, "double", pred)
    local best2, ov2 = core.eval.wider_match(T.tensor(gt), "double", T.tensor(pred))
    assert.are.same(best, best2)
    assert.are.same(ov, ov2)

    local weights = {{1, 5, 2}, {4, 1, 1}}
    local assign = core.eval.hungarian(weights)
    assert.are.same({2, 1}, assign)
    assert.are.same(assign, core.eval.hungarian(T.tensor(weights)))
    assert.are.same({2}, core.eval.hungarian({1, 5, 2})) -- one row
  end)

  it("names the argument and the row in its errors", function()
    assert.matches("iou: row 1 needs at least 4 numbers", error_of(box.iou, {0, 0, 9}, {{0, 0, 1, 1}}), 1, true)
    assert.matches("nms: row 2: item 3 is not a number",
      error_of(box.nms, {{0, 0, 9, 9, 1}, {0, 0, "x", 9, 1}}, 0.5), 1, true)
    assert.matches("nms: row 2 is not a table", error_of(box.nms, {{0, 0, 9, 9, 1}, "x"}, 0.5), 1, true)
    assert.matches("nms: tensor 3x4 should be Nx5 (or wider)", error_of(box.nms, T.zeros(3, 4), 0.5), 1, true)
    assert.matches("nms: 1 boxes but 2 scores", error_of(box.nms, {{0, 0, 9, 9}}, 0.5, "union", {1, 2}), 1, true)
    assert.matches("fix: expected a tensor or a table, got string", error_of(box.fix, "x"), 1, true)
  end)
end)

describe("binding toolkit: option fields", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  it("raise 'bad field' naming the field, the type expected and the type given", function()
    local img = image.new(8, 8)
    local err = error_of(img.rotate, img, 10, {cx = "middle"})
    assert.matches("bad field 'cx'", err, 1, true)
    assert.matches("(number expected, got string)", err, 1, true)
    err = error_of(core.record.writer, dir .. "/x.rec", {size = "big"})
    assert.matches("bad field 'size'", err, 1, true)
    assert.matches("(integer expected, got string)", err, 1, true)
    assert.matches("(integer expected, got number)", error_of(core.record.writer, dir .. "/x.rec", {size = 1.5}), 1, true)
    err = error_of(img.resize_to_tensor, img, 4, 4, {method = "cubic"})
    assert.matches("bad field 'method'", err, 1, true)
    assert.matches("\"area\" or \"bilinear\" expected, got 'cubic'", err, 1, true)
    assert.matches("bad field 'method'", error_of(img.resize_to_tensor, img, 4, 4, {method = 1}), 1, true)
    assert.matches("bad field 'out'", error_of(img.to_tensor, img, {out = 3}), 1, true)
    assert.matches("bad field 'pos_iou'", error_of(sample.detection, img, {}, {pos_iou = "high"}), 1, true)
    assert.matches("bad field 'source'", error_of(function()
      local w = assert(core.record.writer(dir .. "/y.rec", {size = 8}))
      local ok, e = pcall(w.add, w, {image = img, label = 1, source = {}})
      w:abort()
      error(e)
    end), 1, true)
  end)

  it("take defaults when a field is absent or nil, and convert numbers as lauxlib does", function()
    local img = ramp(9, 7)
    assert.is_true(img:rotate(30) == img:rotate(30, {}))
    assert.is_true(img:rotate(30, {scale = 1}) == img:rotate(30, {scale = "1"}))
    assert.is_true(img:rotate(30, {cx = 4, cy = 3}) == img:rotate(30, {cx = 4.0, cy = 3}))
    local t = img:to_tensor({normalize = false})
    assert.are.equal(0, t:max_abs_diff(img:to_tensor({normalize = false, out = nil})))
  end)
end)

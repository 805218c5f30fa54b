-- Box geometry: IoU and NMS on hand-made cases and against a transcription
-- of the original nms.m, square-ify, calibration, targets, landmarks.
local helper = require "helper"
local mtcnn = require "mtcnn"
local box, T = mtcnn.box, mtcnn.tensor

-- The reference NMS (../shared/anchors/ref_mtcnn.py, after nms.m) written
-- out plainly: stable ascending sort by score, take the last, drop overlaps > t.
-- Comparisons as the C code writes them, so that NaN goes the same way (math.min and
-- math.max would keep their first argument where C takes the second).
local function lesser(a, b) if a < b then return a end return b end
local function greater(a, b) if a > b then return a end return b end
local function pos(v) if v > 0 then return v end return 0 end

local function reference_nms(boxes, t, method)
  local order = {}
  for i = 1, #boxes do order[i] = i end
  table.sort(order, function(a, b)
    if boxes[a][5] ~= boxes[b][5] then return boxes[a][5] < boxes[b][5] end
    return a < b
  end)
  local function area(b) return (b[3] - b[1] + 1) * (b[4] - b[2] + 1) end
  local pick = {}
  while #order > 0 do
    local i = order[#order]
    pick[#pick + 1] = i
    local rest = {}
    for k = 1, #order - 1 do
      local j = order[k]
      local a, b = boxes[i], boxes[j]
      local w = pos(lesser(a[3], b[3]) - greater(a[1], b[1]) + 1)
      local h = pos(lesser(a[4], b[4]) - greater(a[2], b[2]) + 1)
      local inter = w * h
      local o = method == "min" and inter / lesser(area(a), area(b))
                or inter / (area(a) + area(b) - inter)
      if o <= t then rest[#rest + 1] = j end
    end
    order = rest
  end
  return pick
end

describe("iou", function()
  it("uses inclusive boxes (+1 pixel)", function()
    local o = box.iou({0, 0, 9, 9}, {{5, 5, 14, 14}, {0, 0, 9, 9}, {10, 0, 19, 9}, {9, 0, 18, 9}})
    helper.near(o[1], 25 / 175, 1e-12)
    assert.are.equal(1, o[2])
    assert.are.equal(0, o[3]) -- touching edges share no pixel
    helper.near(o[4], 10 / 190, 1e-12)
    local m = box.iou({0, 0, 9, 9}, {{2, 2, 5, 5}, {5, 5, 14, 14}}, "min")
    assert.are.equal(1, m[1])
    helper.near(m[2], 25 / 100, 1e-12)
  end)

  it("accepts tensors and answers with tensors", function()
    local b = T.tensor{{5, 5, 14, 14, 0.9}, {0, 0, 9, 9, 0.1}}
    local o = box.iou(T.tensor{0, 0, 9, 9}, b)
    assert.are.same({2}, o:size())
    helper.near(o[1], 25 / 175, 1e-7)
    assert.has_error(function() box.iou({0, 0, 9}, {{0, 0, 1, 1}}) end)
    assert.has_error(function() box.iou({0, 0, 9, 9}, {{0, 0, 1, 1}}, "max") end)
  end)
end)

describe("nms", function()
  it("keeps the best box of each cluster, in score order", function()
    local boxes = {
      {0, 0, 9, 9, 0.8},
      {1, 1, 10, 10, 0.9},   -- overlaps box 1 by 81/119
      {30, 30, 39, 39, 0.7},
      {31, 30, 40, 39, 0.95}, -- overlaps box 3 by 90/110
    }
    assert.are.same({4, 2}, box.nms(boxes, 0.5))
    assert.are.same({4, 2, 1, 3}, box.nms(boxes, 0.9))
    -- a box inside another: Union keeps both, Min drops the inner one
    local nested = {{0, 0, 19, 19, 0.9}, {5, 5, 9, 9, 0.8}}
    assert.are.same({1, 2}, box.nms(nested, 0.5, "union"))
    assert.are.same({1}, box.nms(nested, 0.5, "min"))
    -- an overlap equal to the threshold survives (the original keeps o <= t)
    local o = box.iou({0, 0, 9, 9}, {{5, 5, 14, 14}})[1]
    assert.are.same({1, 2}, box.nms({{0, 0, 9, 9, 1}, {5, 5, 14, 14, 0.5}}, o))
    assert.are.same({}, box.nms({}, 0.5))
  end)

  it("breaks score ties as the original does (the later box first)", function()
    local boxes = {{0, 0, 9, 9, 0.5}, {1, 0, 10, 9, 0.5}, {2, 0, 11, 9, 0.5}}
    assert.are.same({3}, box.nms(boxes, 0.5))
    assert.are.same({3, 2, 1}, box.nms(boxes, 0.95))
  end)

  it("agrees with the original nms.m on random boxes with many ties", function()
    local g = T.generator(4)
    for round = 1, 8 do
      local boxes = {}
      for i = 1, 150 do
        local x, y = g:integer(0, 80), g:integer(0, 80)
        local w, h = g:integer(3, 30), g:integer(3, 30)
        boxes[i] = {x, y, x + w, y + h, g:integer(0, 9) / 10}
      end
      for _, method in ipairs({"union", "min"}) do
        for _, t in ipairs({0.3, 0.5, 0.7}) do
          local want = reference_nms(boxes, t, method)
          assert.are.same(want, box.nms(boxes, t, method), ("round %d %s %g"):format(round, method, t))
          -- the tensor form and explicit scores give the same
          local tb, scores = T.zeros(#boxes, 4), T.zeros(#boxes)
          for i, b in ipairs(boxes) do
            for k = 1, 4 do tb:set(i, k, b[k]) end
            scores[i] = b[5]
          end
          local s = {}
          for i, b in ipairs(boxes) do s[i] = b[5] end
          assert.are.same(want, box.nms(tb, t, method, scores))
          assert.are.same(want, box.nms(boxes, t, method, s))
        end
      end
    end
  end)

  -- From 64 boxes on, NMS looks only at the boxes near each kept one (a grid of cells per size
  -- class); its picks must be the plain scan's, in order, whatever the sizes and positions.
  it("picks as the plain scan does among many boxes of every size", function()
    local g = T.generator(11)
    local function scene(n, spread)
      local boxes = {}
      for i = 1, n do
        local side = 2 ^ (g:uniform() * 9) -- 1 to 512 pixels
        local x, y = g:uniform() * spread - 50, g:uniform() * spread - 50
        local w, h = side * (0.6 + 0.8 * g:uniform()), side * (0.6 + 0.8 * g:uniform())
        boxes[i] = {x, y, x + w - 1, y + h - 1, g:integer(0, 19) / 20}
      end
      return boxes
    end
    -- a PNet-like level: windows of one size on a stride-2 lattice, scores with ties
    local lattice = {}
    for r = 0, 24 do
      for c = 0, 24 do
        lattice[#lattice + 1] = {2 * c, 2 * r, 2 * c + 11, 2 * r + 11, g:integer(0, 9) / 10}
      end
    end
    local cases = {{"wide", scene(900, 1500)}, {"dense", scene(600, 200)}, {"lattice", lattice}}
    for _, case in ipairs(cases) do
      for _, method in ipairs({"union", "min"}) do
        for _, t in ipairs({0, 0.3, 0.7, 1}) do
          local want = reference_nms(case[2], t, method)
          assert.are.same(want, box.nms(case[2], t, method), ("%s %s %g"):format(case[1], method, t))
        end
      end
    end
  end)

  it("keeps the scan's answer for NaN, empty and far boxes and for odd thresholds", function()
    local g = T.generator(12)
    local base = {}
    for i = 1, 100 do
      local x, y = g:integer(0, 200), g:integer(0, 200)
      base[i] = {x, y, x + g:integer(5, 40), y + g:integer(5, 40), g:integer(0, 9) / 10}
    end
    local function with(b)
      local boxes = {}
      for i, v in ipairs(base) do boxes[i] = v end
      boxes[#boxes + 1] = b
      return boxes
    end
    local nan = 0 / 0
    local cases = {
      {"NaN corner", with({nan, 10, 20, 30, 0.55}), 0.5},
      {"NaN corner first", with({10, 10, 20, nan, 2}), 0.5},
      {"empty box", with({10, 10, 8, 30, 0.55}), 0.5},
      {"far box", with({1e13, 0, 1e13 + 20, 20, 0.55}), 0.5},
      {"negative threshold", base, -0.1},
    }
    for _, case in ipairs(cases) do
      for _, method in ipairs({"union", "min"}) do
        local want = reference_nms(case[2], case[3], method)
        assert.are.same(want, box.nms(case[2], case[3], method), case[1] .. " " .. method)
      end
    end
  end)

  it("needs scores", function()
    assert.has_error(function() box.nms({{0, 0, 9, 9}}, 0.5) end)
    assert.has_error(function() box.nms(T.zeros(3, 4), 0.5) end)
    assert.has_error(function() box.nms({{0, 0, 9, 9}}, 0.5, "union", {1, 2}) end)
  end)
end)

describe("square, calibrate, fix", function()
  it("squares boxes around their centres in both conventions", function()
    local r = box.square({{10, 20, 30, 60, 0.5}}, "rerec")[1]
    assert.are.same({0, 20, 40, 60, 0.5}, r)
    local q = box.square({{0, 0, 9, 19}})[1]
    assert.are.same({-5, 0, 14, 19}, q)
    -- the two conventions are the same map (side + 1 pixels either way)
    local g = T.generator(5)
    for _ = 1, 50 do
      local b = {g:uniform(0, 50), g:uniform(0, 50), 0, 0}
      b[3], b[4] = b[1] + g:uniform(1, 40), b[2] + g:uniform(1, 40)
      local a, c = box.square(b, "rerec"), box.square(b, "inclusive")
      for k = 1, 4 do helper.near(a[k], c[k], 1e-9) end
      helper.near(a[3] - a[1], a[4] - a[2], 1e-9)
    end
    assert.has_error(function() box.square({0, 0, 1, 1}, "round") end)
  end)

  it("calibrates with and without the +1 width", function()
    local b, reg = {{10, 10, 29, 29}}, {{0.1, -0.1, 0.2, 0.05}}
    local c1 = box.calibrate(b, reg)[1]
    for k, v in ipairs({12, 8, 33, 30}) do helper.near(c1[k], v, 1e-12) end
    local c0 = box.calibrate(b, reg, {plus_one = false})[1]
    for k, v in ipairs({11.9, 8.1, 32.8, 29.95}) do helper.near(c0[k], v, 1e-12) end
    -- chained square and fix, as the detector's stage ends
    local chain = box.calibrate(b, reg, {plus_one = false, square = "rerec", fix = true})[1]
    local step = box.fix(box.square(box.calibrate(b, reg, {plus_one = false}), "rerec"))[1]
    assert.are.same(step, chain)
    assert.are.same({-1, 2, 3, -4}, box.fix({-1.7, 2.9, 3.2, -4.5}))
  end)

  it("keeps extra columns of tensors and rows", function()
    local t = T.tensor{{10, 10, 29, 29, 0.5, 7}}
    local c = box.calibrate(t, t:narrow(2, 3, 4):clone():fill_(0))
    assert.are.same({{10, 10, 29, 29, 0.5, 7}}, c:to_table())
    -- the offsets may be a strided view of the same tensor (PNet's candidates)
    local cand = T.tensor{{10, 10, 29, 29, 0.5, 0.1, -0.1, 0.2, 0.05}}
    local c2 = box.calibrate(cand, cand:narrow(2, 6, 4), {plus_one = false})
    for k, v in ipairs({11.9, 8.1, 32.8, 29.95}) do helper.near(c2:get(1, k), v, 1e-5) end
    local s = box.square(T.tensor{{0, 0, 9, 19, 0.25}})
    assert.are.same({{-5, 0, 14, 19, 0.25}}, s:to_table())
    local rows = box.square({{0, 0, 9, 19, 0.5, "x"}})
    assert.are.same({-5, 0, 14, 19, 0.5, "x"}, rows[1])
  end)
end)

describe("targets and landmarks", function()
  it("makes regression targets that calibration inverts", function()
    local g = T.generator(6)
    local crops, gts = {}, {}
    for i = 1, 40 do
      local x, y, s = g:integer(0, 100), g:integer(0, 100), g:integer(12, 80)
      crops[i] = {x, y, x + s - 1, y + s - 1}
      gts[i] = {x + g:uniform(-10, 10), y + g:uniform(-10, 10), x + s + g:uniform(-10, 10), y + s + g:uniform(-10, 10)}
    end
    local t = box.targets(crops, gts)
    local back = box.calibrate(crops, t)
    for i = 1, 40 do
      for k = 1, 4 do helper.near(back[i][k], gts[i][k], 1e-9) end
    end
    local one = box.targets({10, 10, 29, 29}, {12, 8, 33, 30})
    for k, v in ipairs({0.1, -0.1, 0.2, 0.05}) do helper.near(one[k], v, 1e-12) end
    assert.are.same({2, 4}, box.targets(T.tensor{{0, 0, 9, 9}, {0, 0, 9, 9}}, T.zeros(2, 4)):size())
  end)

  it("mirrors targets as mirroring the crop mirrors the face", function()
    local c = {10, 20, 49, 59}
    local gt = {14, 18, 41, 62}
    -- the mirror of column x inside the crop is x1 + x2 - x
    local mg = {c[1] + c[3] - gt[3], gt[2], c[1] + c[3] - gt[1], gt[4]}
    local t = box.mirror_targets(box.targets(c, gt))
    local want = box.targets(c, mg)
    for k = 1, 4 do helper.near(t[k], want[k], 1e-12) end
  end)

  it("normalises landmarks to a box and back", function()
    local b = {10, 20, 29, 39} -- 20 x 20
    local pts = {10, 29, 20, 12, 25, 20, 21, 30, 35, 36}
    local u = box.landmarks_to_box(pts, b)
    helper.near(u[1], 0.5 / 20, 1e-12)
    helper.near(u[2], 19.5 / 20, 1e-12)
    helper.near(u[6], 0.5 / 20, 1e-12)
    local back = box.landmarks_from_box(u, b)
    for k = 1, 10 do helper.near(back[k], pts[k], 1e-12) end
    -- the original models' decoding: x = w * u + x1 - 1
    local orig = box.landmarks_from_box({0.5, 0, 0, 0, 0, 0.25, 0, 0, 0, 0}, b, 1)
    helper.near(orig[1], 20 * 0.5 + 10 - 1, 1e-12)
    helper.near(orig[6], 20 * 0.25 + 20 - 1, 1e-12)
    -- rows of a tensor against rows of boxes
    local t = box.landmarks_to_box(T.tensor{pts, pts}, T.tensor{b, {0, 0, 99, 99}})
    assert.are.same({2, 10}, t:size())
    helper.near(t:get(2, 1), 10.5 / 100, 1e-7)
  end)

  it("mirrors landmarks exactly like the crop's pixels", function()
    local c = {10, 20, 49, 59}
    local pts = {18, 40, 30, 20, 39, 30, 31, 45, 50, 51}
    local u = box.landmarks_to_box(pts, c)
    local m = box.mirror_landmarks(u)
    -- mirror the points in pixels, then swap left and right (eyes, mouth corners)
    local px = {}
    for i = 1, 5 do px[i] = c[1] + c[3] - pts[i] end
    local swapped = {px[2], px[1], px[3], px[5], px[4], pts[7], pts[6], pts[8], pts[10], pts[9]}
    local want = box.landmarks_to_box(swapped, c)
    for k = 1, 10 do helper.near(m[k], want[k], 1e-12) end
    local twice = box.mirror_landmarks(m)
    for k = 1, 10 do helper.near(twice[k], u[k], 1e-12) end
  end)

  it("selects rows of tensors", function()
    local t = T.arange(12):view(4, 3)
    assert.are.same({{9, 10, 11}, {0, 1, 2}}, box.select(t, {4, 1}):to_table())
    assert.are.same({0, 3}, box.select(t, {}):size())
    assert.has_error(function() box.select(t, {5}) end)
  end)
end)

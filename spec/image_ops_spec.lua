-- The image object and its operations: pixels, crops with zero fill,
-- mirroring, tensor conversion, affine warps, face alignment, drawing.
local helper = require "helper"
local mtcnn = require "mtcnn"
local image, T = mtcnn.image, mtcnn.tensor

-- a small picture whose pixel (x, y) is (x, y, x + y) mod 256
local function ramp(w, h)
  local img = image.new(w, h)
  for y = 0, h - 1 do
    for x = 0, w - 1 do img:set(x, y, x % 256, y % 256, (x + y) % 256) end
  end
  return img
end

describe("the image object", function()
  it("has a size, pixels with 0-based coordinates, and a printable name", function()
    local img = image.new(5, 3, {10, 20, 30})
    assert.are.equal(5, img.width)
    assert.are.equal(3, img.height)
    assert.are.same({5, 3}, {img:size()})
    assert.are.same({10, 20, 30}, {img:get(4, 2)})
    img:set(0, 0, 1, 2, 3)
    img:set(1, 0, "red")
    assert.are.same({1, 2, 3}, {img:get(0, 0)})
    assert.are.same({255, 0, 0}, {img:get(1, 0)})
    assert.are.equal("[mtcnn.Image 5x3]", tostring(img))
    assert.is_true(image.is_image(img))
    assert.is_false(image.is_image({}))
    assert.has_error(function() img:get(5, 0) end, "pixel (5, 0) is outside the 5x3 image (coordinates are 0-based)")
    assert.has_error(function() img:set(0, 0, 256, 0, 0) end)
    assert.has_error(function() image.new(-1, 3) end)
  end)

  it("can be freed early, after which it refuses use", function()
    local img = image.new(4, 4)
    img:free()
    assert.has_error(function() return img.width end, "bad argument #1: the image was freed")
    assert.are.equal("[mtcnn.Image (freed)]", tostring(img))
    do
      local tmp <close> = image.new(2, 2)
      assert.are.equal(2, tmp.width)
    end
  end)

  it("accounts for pixel memory and reuses freed buffers", function()
    collectgarbage()
    local before = image.memory()
    local a = image.new(1000, 500) -- 1.5 MB
    local grown = image.memory().live - before.live -- a kept buffer may be up to 25% larger
    assert.is_true(grown >= 1500000 and grown <= 1875000, "grown by " .. grown)
    a:free()
    local after = image.memory()
    assert.are.equal(before.live, after.live)
    assert.is_true(after.cached >= 1500000 and after.cached <= 96 * 2 ^ 20)
    -- a new image of about that size takes the kept buffer, zero-filled as promised
    local b = image.new(990, 500, "white")
    b:free()
    local c = image.new(990, 500)
    assert.are.same({0, 0, 0}, {c:get(989, 499)})
    c:free()
    image.release_cache()
    assert.are.equal(0, image.memory().cached)
  end)

  it("converts to and from raw bytes and tensors", function()
    local img = ramp(7, 5)
    local copy = image.from_string(7, 5, img:to_string())
    assert.is_true(copy == img)
    local t = img:to_tensor()
    assert.are.same({3, 5, 7}, t:size())
    assert.are.equal((6 - 127.5) / 128, t:get(1, 1, 7)) -- red of (6, 0)
    assert.are.equal((4 - 127.5) / 128, t:get(2, 5, 1)) -- green of (0, 4)
    assert.is_true(image.from_tensor(t) == img)
    local raw = img:to_tensor({normalize = false})
    assert.are.equal(10, raw:get(3, 5, 7))
    assert.is_true(image.from_tensor(raw, {normalize = false}) == img)
    local b = image.to_batch({img, img:flip()})
    assert.are.same({2, 3, 5, 7}, b:size())
    assert.is_true(b:select(1, 1):equal(t))
    assert.has_error(function() image.to_batch({img, image.new(3, 3)}) end)
    -- out-of-range values clamp when going back to pixels
    local clamp = image.from_tensor(T.full({3, 1, 2}, 5))
    assert.are.same({255, 255, 255}, {clamp:get(1, 0)})
    assert.has_error(function() image.from_string(2, 2, "abc") end)
  end)

  it("crops with black outside the image", function()
    local img = ramp(10, 8)
    local c = img:crop(-2, -1, 3, 2) -- 6 x 4
    assert.are.same({6, 4}, {c:size()})
    assert.are.same({0, 0, 0}, {c:get(0, 0)})
    assert.are.same({0, 0, 0}, {c:get(1, 3)})
    assert.are.same({0, 0, 0}, {c:get(5, 0)})
    assert.are.same({img:get(0, 0)}, {c:get(2, 1)})
    assert.are.same({1, 1, 2}, {c:get(3, 2)})
    assert.are.same({3, 2, 5}, {c:get(5, 3)})
    local inside = img:crop(2, 3, 4, 5)
    assert.are.same({4, 5, 9}, {inside:get(2, 2)})
    assert.is_true(img:crop(0, 0, 9, 7) == img)
    assert.has_error(function() img:crop(3, 3, 2, 3) end)
  end)

  it("mirrors left-right, as a copy or in place", function()
    local img = ramp(5, 2)
    local m = img:flip()
    assert.are.same({img:get(0, 1)}, {m:get(4, 1)})
    assert.are.same({img:get(2, 0)}, {m:get(2, 0)})
    assert.is_true(m:flip() == img)
    img:flip_()
    assert.is_true(img == m)
  end)
end)

describe("warps and alignment", function()
  it("builds OpenCV's rotation matrices and maps points", function()
    local m = image.rotation_matrix(10, 20, 90, 1)
    -- getRotationMatrix2D((10, 20), 90, 1) = [[0, 1, -10], [-1, 0, 30]]
    local want = {0, 1, -10, -1, 0, 30}
    for i = 1, 6 do helper.near(m[i], want[i], 1e-12) end
    local p = image.transform_points(m, {{10, 20}, {11, 20}, {10, 19}})
    helper.near(p[1][1], 10, 1e-12); helper.near(p[1][2], 20, 1e-12)
    -- a point to the right of the centre ends up above it (anticlockwise on screen)
    helper.near(p[2][1], 10, 1e-12); helper.near(p[2][2], 19, 1e-12)
    helper.near(p[3][1], 9, 1e-12); helper.near(p[3][2], 20, 1e-12)
    local inv = image.invert_affine(m)
    local back = image.transform_points(inv, p)
    helper.near(back[2][1], 11, 1e-12)
    assert.has_error(function() image.invert_affine({1, 2, 0, 2, 4, 0}) end)
  end)

  it("warps pixels the way it maps points", function()
    local img = ramp(9, 9)
    -- a quarter turn about the centre moves pixels exactly
    local r, m = img:rotate(90)
    for _, q in ipairs({{0, 0}, {8, 0}, {3, 5}, {7, 2}}) do
      local p = image.transform_points(m, {q})[1]
      assert.are.same({img:get(q[1], q[2])}, {r:get(math.floor(p[1] + 0.5), math.floor(p[2] + 0.5))})
    end
    -- the identity and a whole-pixel shift copy pixels; the border is black or given
    assert.is_true(img:warp_affine({1, 0, 0, 0, 1, 0}, 9, 9) == img)
    local s = img:warp_affine({{1, 0, 2}, {0, 1, 1}}, 9, 9)
    assert.are.same({img:get(3, 4)}, {s:get(5, 5)})
    assert.are.same({0, 0, 0}, {s:get(0, 0)})
    local w = img:warp_affine({1, 0, 2, 0, 1, 1}, 9, 9, {border = "white"})
    assert.are.same({255, 255, 255}, {w:get(0, 0)})
    -- half a pixel: the average of two neighbours
    local h = img:warp_affine({1, 0, -0.5, 0, 1, 0}, 8, 9)
    local a, b = {img:get(2, 3)}, {img:get(3, 3)}
    local got = {h:get(2, 3)}
    for c = 1, 3 do assert.is_true(math.abs(got[c] - (a[c] + b[c]) / 2) <= 0.5) end
  end)

  it("fits least-squares similarities", function()
    local src = {{30, 40}, {70, 42}, {50, 60}, {35, 80}, {66, 81}}
    -- a known similarity: scale 1.3, 20 degrees, shift (5, -7)
    local m0 = image.rotation_matrix(0, 0, 20, 1.3)
    m0[3], m0[6] = 5, -7
    local dst = image.transform_points(m0, src)
    local m = image.similarity(src, dst)
    for i = 1, 6 do helper.near(m[i], m0[i], 1e-9, "matrix entry " .. i) end
    assert.has_error(function() image.similarity({{1, 1}, {1, 1}}, {{0, 0}, {2, 2}}) end)
  end)

  it("aligns faces onto the five-point template", function()
    local t112 = image.alignment_template()
    helper.near(t112[1][1], 38.2946, 1e-9)
    helper.near(t112[5][2], 92.2041, 1e-9)
    local t96 = image.alignment_template(96, 112)
    helper.near(t96[1][1], 38.2946 - 8, 1e-9)
    local t224 = image.alignment_template(224)
    helper.near(t224[3][1], 56.0252 * 2, 1e-9)
    -- a picture with five dots where a tilted face's landmarks are
    local img = image.new(200, 160)
    local colours = {"red", "green", "blue", "yellow", "magenta"}
    local m0 = image.rotation_matrix(56, 72, -15, 0.9)
    m0[3], m0[6] = m0[3] + 40, m0[6] + 30
    local pts = image.transform_points(m0, t112)
    for i, p in ipairs(pts) do img:draw_circle(p[1], p[2], 2.5, {color = colours[i]}) end
    local face, m = img:align_face(pts)
    assert.are.same({112, 112}, {face:size()})
    local back = image.transform_points(m, pts)
    for i = 1, 5 do
      helper.near(back[i][1], t112[i][1], 1e-6)
      helper.near(back[i][2], t112[i][2], 1e-6)
    end
    -- the dots land on the template: sample the colour there
    for i, q in ipairs(t112) do
      local r, g, b = face:get(math.floor(q[1] + 0.5), math.floor(q[2] + 0.5))
      local want = ({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0, 1}})[i]
      local got = {r > 100 and 1 or 0, g > 100 and 1 or 0, b > 100 and 1 or 0}
      assert.are.same(want, got, "landmark " .. i)
    end
    -- planar landmarks (x1..x5, y1..y5) give the same result
    local planar = {}
    for i = 1, 5 do planar[i], planar[5 + i] = pts[i][1], pts[i][2] end
    assert.is_true(img:align_face(planar) == face)
    assert.are.same({96, 112}, {img:align_face(pts, {size = {96, 112}}):size()})
  end)
end)

describe("drawing", function()
  it("draws rectangles, lines, points and text, clipped to the image", function()
    local img = image.new(40, 30)
    img:draw_rect(5, 6, 20, 15, {color = {255, 0, 0}, thickness = 1})
    assert.are.same({255, 0, 0}, {img:get(5, 6)})
    assert.are.same({255, 0, 0}, {img:get(20, 15)})
    assert.are.same({255, 0, 0}, {img:get(12, 6)})
    assert.are.same({0, 0, 0}, {img:get(12, 10)})
    assert.are.same({0, 0, 0}, {img:get(4, 6)})
    img:draw_rect(5, 6, 20, 15, {color = "blue", thickness = 2})
    assert.are.same({0, 0, 255}, {img:get(6, 7)}) -- the second pixel is inside
    img:draw_line(0, 29, 39, 0, {color = "white"})
    assert.are.same({255, 255, 255}, {img:get(0, 29)})
    assert.are.same({255, 255, 255}, {img:get(39, 0)})
    img:draw_point(30, 20, {color = "green", radius = 2})
    assert.are.same({0, 255, 0}, {img:get(30, 20)})
    assert.are.same({0, 255, 0}, {img:get(32, 20)})
    assert.are.same({0, 0, 0}, {img:get(33, 23)})
    -- far outside: nothing happens, nothing breaks
    img:draw_rect(-1e6, -1e6, 1e6, 1e6, {color = "red"})
    img:draw_line(-5e8, 3, 5e8, 3)
    img:draw_text(1e6, 1e6, "far")
    img:draw_circle(-100, -100, 5)
  end)

  it("writes text in the built-in font, with a background", function()
    local img = image.new(60, 20)
    local w, h = image.text_size("FACE 0.98")
    assert.are.same({53, 7}, {w, h})
    img:draw_text(2, 3, "FACE 0.98", {color = "white", background = {0, 0, 128}})
    local lit, bg = 0, 0
    for y = 0, 19 do
      for x = 0, 59 do
        local r, _, b = img:get(x, y)
        if r == 255 then lit = lit + 1 elseif b == 128 then bg = bg + 1 end
        if x < 1 or x > 56 or y < 2 or y > 10 then assert.are.equal(0, r + b, "outside the label") end
      end
    end
    assert.is_true(lit > 60 and bg > 200)
    -- lowercase prints as capitals; unknown characters as '?'
    local a, b = image.new(10, 9), image.new(10, 9)
    a:draw_text(0, 0, "a")
    b:draw_text(0, 0, "A")
    assert.is_true(a == b)
    a:draw_text(0, 0, "\1")
    b:draw_text(0, 0, "?")
    assert.is_true(a == b)
  end)

  it("makes contact sheets with labels and boxes with scores", function()
    local tiles = {ramp(12, 12), ramp(12, 12):flip(), image.new(12, 12, "red")}
    local sheet = image.grid(tiles, {cols = 2, pad = 2, labels = {"a", "b", "c"}})
    assert.are.same({2 * 14 + 2, 2 * (12 + 11 + 2) + 2}, {sheet:size()})
    assert.are.same({tiles[1]:get(5, 5)}, {sheet:get(2 + 5, 2 + 5)})
    assert.are.same({255, 0, 0}, {sheet:get(2 + 3, 2 + 25 + 3)})
    local img = image.new(80, 60)
    img:draw_box({20, 25, 60, 55, 0.987}, {show_score = true})
    assert.are.same({0, 255, 0}, {img:get(20, 25)})
    img:draw_landmarks({30, 40, 35, 32, 45, 40, 40, 45, 50, 48})
    assert.are.same({255, 0, 0}, {img:get(30, 40)})
    local dir = helper.tmpdir()
    assert.is_true(sheet:save(dir .. "/sheet.png"))
    assert.is_true(assert(image.load(dir .. "/sheet.png")) == sheet)
    helper.rmdir(dir)
  end)
end)

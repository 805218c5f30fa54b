-- Resizing against OpenCV 4.6's cv2.resize (INTER_LINEAR, INTER_AREA) on
-- float images, the image -> normalised tensor path, zero-padded crops as the
-- reference cascade cuts them, and the output forms.
local helper = require "helper"
local mtcnn = require "mtcnn"
local image, T, json, sys = mtcnn.image, mtcnn.tensor, mtcnn.json, mtcnn.sys

local DIR = "spec/fixtures/resize/"
local cases = json.read_file(DIR .. "cases.json")

local function load(name) return assert(T.load(DIR .. name)) end

describe("resize against OpenCV", function()
  it("matches cv2.resize on float images within 1e-3 (shrink, enlarge, odd and mixed sizes)", function()
    local seen = {bilinear = {}, area = {}}
    for _, c in ipairs(cases.float) do
      local got = image.resize_tensor(load(c.source), c.width, c.height, c.method)
      -- values are 0..255: 1e-3 is a few float ulps, not a loose tolerance
      helper.tensor_near(got, load(c.file), 1e-3, ("%s %s %dx%d"):format(c.source, c.method, c.width, c.height))
      seen[c.method][#seen[c.method] + 1] = c
    end
    assert.is_true(#seen.bilinear >= 15 and #seen.area >= 15)
  end)

  it("resizes uint8 images straight into normalised tensors like cv2 on float32 + (x - 127.5) / 128", function()
    local img = assert(image.load(DIR .. cases.u8.image))
    for _, c in ipairs(cases.u8.cases) do
      local got = img:resize_to_tensor(c.width, c.height, {method = c.method})
      assert.are.same({1, 3, c.height, c.width}, got:size())
      helper.tensor_near(got, load(c.file), 1e-6, ("%s %dx%d"):format(c.method, c.width, c.height))
    end
  end)

  it("cuts zero-padded crops as the reference does, in one batch", function()
    local img = assert(image.load(DIR .. cases.crops.image))
    local boxes = cases.crops.boxes
    for _, c in ipairs(cases.crops.cases) do
      local got = img:crop_resize(boxes, c.size, {method = c.method})
      helper.tensor_near(got, load(c.file), 1e-6, ("crops %s %d"):format(c.method, c.size))
      -- the same boxes as an [N, 5] tensor (a score column is ignored)
      local tb = T.zeros(#boxes, 5)
      for i, b in ipairs(boxes) do for k = 1, 4 do tb:set(i, k, b[k]) end end
      helper.tensor_near(img:crop_resize(tb, c.size, {method = c.method}), got, 0, "tensor boxes")
    end
  end)

  it("defaults to area for tensors and bilinear for images", function()
    local img = assert(image.load(DIR .. cases.u8.image))
    local area = load("u8_37x29_area_18x14.mtt")
    helper.tensor_near(img:resize_to_tensor(18, 14), area, 1e-6)
    local bil = img:resize(18, 14):to_tensor():view(1, 3, 14, 18)
    -- rounding to uint8 costs at most half a level: 0.5 / 128
    helper.tensor_near(bil, load("u8_37x29_bilinear_18x14.mtt"), 0.5 / 128 + 1e-6)
  end)
end)

describe("resize outputs", function()
  local img
  before_each(function() img = assert(image.load(DIR .. cases.u8.image)) end)

  it("writes into a slice of a batch, leaving the rest alone", function()
    local batch = T.full({3, 3, 14, 18}, 7)
    local out = img:resize_to_tensor(18, 14, {out = batch:narrow(1, 2, 1)})
    assert.are.equal(3, batch:size(1))
    helper.tensor_near(batch:narrow(1, 2, 1), load("u8_37x29_area_18x14.mtt"), 1e-6)
    assert.are.equal(7, batch:get(1, 1, 1, 1))
    assert.are.equal(7, batch:get(3, 3, 14, 18))
    assert.are.equal(batch:get(2, 1, 1, 1), out:get(1, 1, 1, 1))
    -- a strided view works too (a transposed output)
    local tr = T.zeros(1, 3, 18, 14):transpose(3, 4)
    img:resize_to_tensor(18, 14, {out = tr})
    helper.tensor_near(tr, load("u8_37x29_area_18x14.mtt"), 1e-6)
  end)

  it("keeps raw 0..255 values with normalize = false", function()
    local raw = img:resize_to_tensor(18, 14, {normalize = false})
    local norm = img:resize_to_tensor(18, 14)
    helper.tensor_near((raw - 127.5) * 0.0078125, norm, 1e-6)
  end)

  it("gives the same numbers with 1 and 2 threads", function()
    local n = sys.threads()
    local boxes = {}
    for i = 1, 40 do boxes[i] = {i - 10, i % 7 - 3, i + 20, i % 7 + 25} end
    sys.set_threads(1)
    local a1, c1 = img:resize_to_tensor(25, 20), img:crop_resize(boxes, 24)
    sys.set_threads(2)
    local a2, c2 = img:resize_to_tensor(25, 20), img:crop_resize(boxes, 24)
    sys.set_threads(n)
    assert.is_true(a1:equal(a2))
    assert.is_true(c1:equal(c2))
  end)

  it("cuts crops inside the image exactly as a crop then a resize (the direct two-tap path)", function()
    -- crops wholly inside take a shortcut for linear tables; it must not change a bit
    local big = img:resize(160, 120, "bilinear")
    math.randomseed(11)
    for _, size in ipairs({12, 24, 13}) do
      for _, method in ipairs({"bilinear", "area"}) do
        local boxes = {{0, 0, 2 * size - 1, 2 * size - 1}, {3, 4, 3 + size // 2, 4 + size // 2}}
        for _ = 1, 40 do
          local w, h = math.random(3, 110), math.random(3, 110)
          local x, y = math.random(0, 160 - w), math.random(0, 120 - h)
          boxes[#boxes + 1] = {x, y, x + w - 1, y + h - 1}
        end
        local got = big:crop_resize(boxes, size, {method = method, normalize = false})
        for i, b in ipairs(boxes) do
          local ref = big:crop(b[1], b[2], b[3], b[4]):resize_to_tensor(size, size,
                                                                        {method = method, normalize = false})
          helper.tensor_near(got:narrow(1, i, 1), ref, 0, ("%s %d box %d"):format(method, size, i))
        end
      end
    end
  end)

  it("makes black crops of empty boxes and of boxes outside the image", function()
    local black = (0 - 127.5) / 128
    local t = img:crop_resize({{5, 5, 4, 9}, {100, 100, 130, 130}, {-50, -50, -10, -10}}, 12)
    for i = 1, 3 do
      assert.are.equal(black, t:select(1, i):max())
      assert.are.equal(black, t:select(1, i):min())
    end
    assert.are.same({0, 3, 12, 12}, img:crop_resize({}, 12):size())
  end)

  it("makes non-square outputs and checks shapes", function()
    assert.are.same({2, 3, 10, 20}, img:crop_resize({{0, 0, 9, 9}, {1, 1, 5, 5}}, {20, 10}):size())
    assert.has_error(function() img:resize_to_tensor(18, 14, {out = T.zeros(1, 3, 14, 17)}) end)
    assert.has_error(function() img:crop_resize({{0, 0, 9, 9}}, 12, {out = T.zeros(2, 3, 12, 12)}) end)
    assert.has_error(function() img:resize_to_tensor(0, 14) end)
    assert.has_error(function() img:crop_resize({{0, 0, 9}}, 12) end)
    assert.has_error(function() img:resize(10, 10, "cubic") end)
    assert.has_error(function() img:crop_resize(T.zeros(3, 3), 12) end)
  end)

  it("resizes images to uint8 with rounding", function()
    local r = img:resize(60, 45, "bilinear")
    assert.are.equal(60, r.width)
    local t = r:to_tensor({normalize = false}):view(1, 3, 45, 60)
    local exact = img:resize_to_tensor(60, 45, {method = "bilinear", normalize = false})
    helper.tensor_near(t, exact, 0.5 + 1e-4)
    -- same size: a copy
    assert.is_true(img:resize(img.width, img.height, "area"):equal(img))
  end)
end)

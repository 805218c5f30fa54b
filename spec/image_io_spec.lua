-- Image decoding and encoding: every JPEG/PNG variant against OpenCV's
-- imread (fixtures from spec/fixtures/make_fixtures.py), the shared photos,
-- round trips, and bad files of every kind.
local helper = require "helper"
local mtcnn = require "mtcnn"
local image, json = mtcnn.image, mtcnn.json

local FIX = "spec/fixtures/decode/"

describe("image decoding", function()
  local entries = json.read_file(FIX .. "decode.json")

  it("covers every variant the fixtures describe", function()
    local names = {}
    for _, e in ipairs(entries) do names[e.file] = true end
    for _, f in ipairs({"rgb_420.jpg", "rgb_444.jpg", "progressive.jpg", "grey.jpg", "cmyk.jpg",
                        "exif_6.jpg", "rgb8.png", "grey8.png", "rgb16.png", "grey16.png",
                        "palette.png", "palette_trns.png", "rgba.png", "grey_alpha.png",
                        "bilevel.png", "interlaced.png"}) do
      assert.is_true(names[f], f .. " is missing from the fixtures")
    end
  end)

  for _, e in ipairs(entries) do
    it(("decodes %s (%s) to OpenCV's pixels"):format(e.file, e.note), function()
      local img = assert(image.load(FIX .. e.file))
      local expected = assert(image.load(FIX .. e.expected))
      assert.are.equal(e.width, img.width)
      assert.are.equal(e.height, img.height)
      assert.are.equal(0, img:max_abs_diff(expected))
    end)
  end

  it("turns every EXIF orientation into the same upright picture", function()
    local upright = assert(image.load(FIX .. "exif_1.jpg"))
    assert.are.equal(40, upright.width)
    for o = 2, 8 do
      local img = assert(image.load(FIX .. ("exif_%d.jpg"):format(o)))
      assert.are.equal(40, img.width, "orientation " .. o)
      assert.are.equal(24, img.height, "orientation " .. o)
      -- JPEG blocks differ after the transposition: compare within the codec's error
      assert.is_true(img:max_abs_diff(upright) <= 40, "orientation " .. o)
      local r, g, b = img:get(2, 2) -- the red block stays at the top-left
      assert.is_true(r > 200 and g < 80 and b < 80, ("orientation %d: top-left is %d,%d,%d"):format(o, r, g, b))
      local _, _, bb = img:get(37, 21) -- the blue block at the bottom-right
      assert.is_true(bb > 200, "orientation " .. o)
    end
    -- the stored pixel order is available too
    local raw = assert(image.load(FIX .. "exif_6.jpg", {orientation = false}))
    assert.are.equal(24, raw.width)
    assert.are.equal(40, raw.height)
  end)

  it("blends alpha over a background on request", function()
    local dropped = assert(image.load(FIX .. "rgba.png"))
    local over_white = assert(image.load(FIX .. "rgba.png", {background = {255, 255, 255}}))
    -- column 0 has alpha 0: white when blended, the stored colour when dropped
    assert.are.same({255, 255, 255}, {over_white:get(0, 12)})
    assert.are_not.same({255, 255, 255}, {dropped:get(0, 12)})
    -- the last column is almost opaque (alpha 234): close to the stored colour
    local a = {dropped:get(39, 5)}
    local b = {over_white:get(39, 5)}
    for c = 1, 3 do assert.is_true(math.abs(a[c] - b[c]) <= 22) end
  end)

  it("reads the shared photos exactly as OpenCV does", function()
    helper.need_shared("the shared photos")
    local sums = json.read_file("spec/fixtures/shared_decode.json")
    local n = 0
    for rel, e in pairs(sums) do
      local img = assert(image.load(helper.shared .. "/" .. rel))
      assert.are.equal(e.width, img.width, rel)
      assert.are.equal(e.height, img.height, rel)
      assert.are.equal(e.crc32c, img:checksum(), rel .. ": pixels differ from OpenCV's")
      n = n + 1
    end
    assert.is_true(n >= 6)
  end)

  it("probes the size without decoding", function()
    local info = assert(image.info(FIX .. "exif_6.jpg"))
    assert.are.same({width = 40, height = 24, format = "jpeg"}, info)
    assert.are.same({width = 40, height = 24, format = "png"}, assert(image.info(FIX .. "rgb8.png")))
  end)

  it("decodes from memory and loads many files on the pool", function()
    local bytes = helper.read_file(FIX .. "rgb8.png")
    local a = assert(image.decode(bytes))
    assert.is_true(a:equal(assert(image.load(FIX .. "rgb8.png"))))
    local imgs, errs = image.load_many({FIX .. "rgb8.png", FIX .. "nope.png", FIX .. "grey.jpg"})
    assert.are.equal(3, #imgs)
    assert.is_true(imgs[1]:equal(a))
    assert.is_false(imgs[2])
    assert.matches("nope%.png", errs[2])
    assert.is_nil(errs[1])
    assert.are.equal(40, imgs[3].width)
  end)
end)

describe("image encoding", function()
  local function picture()
    local img = image.new(33, 21)
    for y = 0, 20 do
      for x = 0, 32 do img:set(x, y, (x * 7) % 256, (y * 11) % 256, ((x + y) * 5) % 256) end
    end
    return img
  end

  it("round-trips PNG exactly and JPEG closely", function()
    local dir = helper.tmpdir()
    local img = picture()
    assert.is_true(img:save(dir .. "/a.png"))
    assert.is_true(assert(image.load(dir .. "/a.png")):equal(img))
    assert.is_true(img:save(dir .. "/a.JPG", 100))
    local j = assert(image.load(dir .. "/a.JPG"))
    assert.are.equal(33, j.width)
    local mr, mg, mb = img:mean()
    local jr, jg, jb = j:mean()
    assert.is_true(math.abs(mr - jr) < 2 and math.abs(mg - jg) < 2 and math.abs(mb - jb) < 2)
    -- lower quality, smaller file
    local hi, lo = img:encode("jpg", 95), img:encode("jpg", 20)
    assert.is_true(#lo < #hi)
    assert.are.equal(0, assert(image.decode(img:encode("png"))):max_abs_diff(img))
    -- no temporary file is left behind
    local out = helper.run("ls " .. helper.q(dir))
    assert.are.equal("a.JPG\na.png\n", out)
    helper.rmdir(dir)
  end)

  it("refuses unknown extensions, bad qualities and unwritable places", function()
    local img = picture()
    assert.has_error(function() img:save("/tmp/x.bmp") end, "save: /tmp/x.bmp: unknown image extension (use .jpg, .jpeg or .png)")
    assert.has_error(function() img:save("/tmp/x.jpg", 101) end)
    assert.has_error(function() img:encode("gif") end)
    local ok, err = img:save("/nonexistent-dir/x.png")
    assert.is_nil(ok)
    assert.matches("/nonexistent%-dir/x%.png", err)
    assert.has_error(function() image.new(0, 5):encode("png") end)
  end)
end)

describe("bad image files", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  local function load_fails(path, pattern)
    local img, err = image.load(path)
    assert.is_nil(img, path .. " should not load")
    assert.is_string(err)
    assert.is_truthy(err:find(path, 1, true), "the message names the file: " .. err)
    if pattern then assert.matches(pattern, err) end
    return err
  end

  it("reports missing files, folders, empty and foreign files", function()
    load_fails(dir .. "/missing.jpg", "cannot open")
    load_fails(dir, "not a regular file")
    helper.write_file(dir .. "/empty.jpg", "")
    load_fails(dir .. "/empty.jpg", "empty file")
    helper.write_file(dir .. "/text.png", "hello, this is not an image\n")
    load_fails(dir .. "/text.png", "not a JPEG or PNG")
    helper.write_file(dir .. "/a.gif", "GIF89a\1\0\1\0\0\0\0;")
    load_fails(dir .. "/a.gif", "GIF images are not supported")
  end)

  it("rejects JPEGs truncated at any point", function()
    local bytes = helper.read_file(FIX .. "progressive.jpg")
    local base = helper.read_file(FIX .. "rgb_420.jpg")
    for _, src in ipairs({base, bytes}) do
      for _, frac in ipairs({0.0005, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95}) do
        local n = math.max(2, math.floor(#src * frac))
        local path = dir .. "/cut.jpg"
        helper.write_file(path, src:sub(1, n))
        load_fails(path)
      end
      -- the end-of-image marker alone missing
      helper.write_file(dir .. "/cut.jpg", src:sub(1, #src - 2))
      load_fails(dir .. "/cut.jpg", "truncated")
    end
  end)

  it("rejects PNGs truncated or damaged", function()
    local src = helper.read_file(FIX .. "rgb8.png")
    for _, n in ipairs({8, 20, 40, #src // 2, #src - 13}) do
      helper.write_file(dir .. "/cut.png", src:sub(1, n))
      load_fails(dir .. "/cut.png")
    end
    -- a flipped byte inside the image data breaks its checksum
    local k = #src // 2
    local bad = src:sub(1, k - 1) .. string.char((src:byte(k) + 1) % 256) .. src:sub(k + 1)
    helper.write_file(dir .. "/bad.png", bad)
    load_fails(dir .. "/bad.png")
  end)

  it("survives random bytes behind a valid signature", function()
    local g = mtcnn.tensor.generator(99)
    for round = 1, 30 do
      local n = g:integer(1, 600)
      local t = {}
      for i = 1, n do t[i] = string.char(g:integer(0, 255)) end
      local body = table.concat(t)
      local head = ({"\255\216\255", "\137PNG\r\n\26\n", ""})[round % 3 + 1]
      local path = dir .. "/random.bin"
      helper.write_file(path, head .. body)
      local img, err = image.load(path)
      -- random bytes may in rare cases form a tiny valid image; never a crash
      assert.is_true(img ~= nil or err:find(path, 1, true) ~= nil)
    end
  end)

  -- CRC-32 of PNG chunks (zlib's polynomial)
  local function crc32(s)
    local c = 0xFFFFFFFF
    for i = 1, #s do
      c = c ~ s:byte(i)
      for _ = 1, 8 do c = (c & 1) == 1 and ((c >> 1) ~ 0xEDB88320) or (c >> 1) end
    end
    return c ~ 0xFFFFFFFF
  end

  it("refuses images above the pixel limit before decoding", function()
    -- a PNG whose header claims 60000 x 60000 pixels (3.6 gigapixels) and has no data
    local png = helper.read_file(FIX .. "rgb8.png")
    local ihdr = "IHDR" .. string.pack(">I4I4", 60000, 60000) .. png:sub(25, 29)
    helper.write_file(dir .. "/huge.png", png:sub(1, 12) .. ihdr .. string.pack(">I4", crc32(ihdr)))
    load_fails(dir .. "/huge.png", "above the limit")
    -- a JPEG whose frame header says the same
    local jpg = helper.read_file(FIX .. "rgb_420.jpg")
    local sof = jpg:find("\255\192", 1, true)
    assert.is_truthy(sof)
    local patched = jpg:sub(1, sof + 4) .. string.pack(">I2I2", 60000, 60000) .. jpg:sub(sof + 9)
    helper.write_file(dir .. "/huge.jpg", patched)
    load_fails(dir .. "/huge.jpg", "above the limit")
    -- the limit per call (the image has 960 pixels) and for the process
    assert.is_nil(image.load(FIX .. "rgb8.png", {max_pixels = 959}))
    assert.is_truthy(image.load(FIX .. "rgb8.png", {max_pixels = 960}))
    local old = image.max_pixels()
    assert.are.equal(100000000, old)
    image.max_pixels(959)
    local img, err = image.load(FIX .. "rgb8.png")
    image.max_pixels(old)
    assert.is_nil(img)
    assert.matches("above the limit", err)
    assert.is_truthy(image.load(FIX .. "rgb8.png"))
  end)

end)

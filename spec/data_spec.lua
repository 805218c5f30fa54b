-- Dataset readers: WIDER FACE bbx_gt files, the seed's one-line lists, the
-- 5-point landmark list; missing images counted, malformed lines named.
local helper = require "helper"
local data = require("mtcnn").data

describe("data readers on made-up files", function()
  local dir
  before_each(function()
    dir = helper.tmpdir()
    os.execute("mkdir -p " .. helper.q(dir .. "/img/sub"))
    for _, n in ipairs({"a.jpg", "b.jpg", "c.jpg", "sub/d.jpg"}) do helper.write_file(dir .. "/img/" .. n, "x") end
  end)
  after_each(function() helper.rmdir(dir) end)

  local function write(name, text)
    helper.write_file(dir .. "/" .. name, text)
    return dir .. "/" .. name
  end

  it("reads WIDER blocks, zero-face images and attributes", function()
    local f = write("gt.txt", table.concat({
      "a.jpg", "2",
      "10 20 30 40 1 0 2 0 1 0 ",
      "5 6 7 8 0 1 0 1 0 2 ",
      "b.jpg", "0", "0 0 0 0 0 0 0 0 0 0 ",
      "gone.jpg", "1", "1 1 5 5 0 0 0 0 0 0 ",
      "c.jpg", "1", "0 0 0 0 0 0 0 0 0 0 ",
      "sub/d.jpg", "1", "3 4 10 12 2 0 0 0 0 0",
    }, "\n") .. "\n")
    local set, stats = data.read_wider(f, {images = dir .. "/img"})
    assert.are.same({listed = 5, kept = 4, missing = 1, faces = 3, invalid = 1, empty = 2}, stats)
    assert.are.equal(dir .. "/img/a.jpg", set[1].path)
    assert.are.equal("a.jpg", set[1].name)
    local f1 = set[1].faces[1]
    -- x y w h -> inclusive x1 y1 x2 y2 = x + w - 1
    assert.are.same({10, 20, 39, 59}, {f1[1], f1[2], f1[3], f1[4]})
    assert.are.same({10, 20, 30, 40, 1, 0, 2, false, 1, 0},
      {f1.x, f1.y, f1.w, f1.h, f1.blur, f1.expression, f1.illumination, f1.invalid, f1.occlusion, f1.pose})
    assert.is_true(set[1].faces[2].invalid)
    assert.are.equal(0, #set[2].faces) -- "0" then a line of zeros
    assert.are.equal(0, #set[3].faces) -- "1" then a line of zeros: no face either
    assert.are.equal("sub/d.jpg", set[4].name)
    -- without the existence check the missing image stays
    local all, s2 = data.read_wider(f, {images = dir .. "/img", check = false})
    assert.are.equal(5, #all)
    assert.are.equal(0, s2.missing)
  end)

  it("names the file and line of a malformed WIDER file", function()
    local cases = {
      {"a.jpg\ntwo\n", ":2: expected the face count of 'a.jpg', got 'two'"},
      {"a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", ":4: the file ends inside the 2 faces of 'a.jpg'"},
      {"a.jpg\n1\n1 2 3 4\n", ":3: a face needs 10 numbers"},
      {"a.jpg\n1\n1 2 x 4 0 0 0 0 0 0\n", ":3: face: 'x' is not a number"},
      {"a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n17\n", ":4: expected an image path, got '17'"},
      {"a.jpg", ":1: the file ends after the image path 'a.jpg'"},
      {"a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n1 2 3 4 0 0 0 0 0 0\n", ":4: expected an image path, got '1 2 3 4 0 0 0 0 0 0'"},
    }
    for k, c in ipairs(cases) do
      local f = write("bad" .. k .. ".txt", c[1])
      local set, err = data.read_wider(f, {images = dir .. "/img"})
      assert.is_nil(set)
      assert.are.equal(f .. c[2], err:sub(1, #f + #c[2]))
    end
    local set, err = data.read_wider(dir .. "/none.txt")
    assert.is_nil(set)
    assert.matches("none%.txt: cannot read", err)
  end)

  it("reads the seed's one-line lists", function()
    local f = write("list.txt", "a 1 2 30 40 50 60 70 80\nsub/d.jpg 5 5 9 9\r\n\nmissing 1 1 2 2\n")
    local set, stats = data.read_list(f, {images = dir .. "/img"})
    assert.are.same({listed = 3, kept = 2, missing = 1, faces = 3}, stats)
    assert.are.equal("a.jpg", set[1].name)
    assert.are.same({{1, 2, 30, 40}, {50, 60, 70, 80}}, set[1].faces)
    assert.are.same({{5, 5, 9, 9}}, set[2].faces)
    local bad = write("bad.txt", "a 1 2 3 4\nb 1 2 3\n")
    local s, err = data.read_list(bad, {images = dir .. "/img"})
    assert.is_nil(s)
    assert.matches("bad%.txt:2: after the path, boxes need 4 numbers each", err)
  end)

  it("reads landmark lists with Windows line ends and backslashes", function()
    local f = write("lm.txt", "sub\\d.jpg 10 50 20 60 15 25 40 26 28 40 18 50 38 51\r\n" ..
                              "lfw\\x.jpg 1 2 3 4 5 6 7 8 9 10 11 12 13 14\r\n")
    local set, stats = data.read_landmarks(f, {images = dir .. "/img"})
    assert.are.same({listed = 2, kept = 1, missing = 1}, stats)
    local e = set[1]
    assert.are.equal("sub/d.jpg", e.name)
    assert.are.same({10, 20, 50, 60}, e.box) -- left right top bottom -> x1 y1 x2 y2
    assert.are.same({15, 40, 28, 18, 38, 25, 26, 40, 50, 51}, e.points) -- planar
    local bad = write("lmbad.txt", "a.jpg 1 2 3\n")
    local s, err = data.read_landmarks(bad, {images = dir .. "/img"})
    assert.is_nil(s)
    assert.matches("lmbad%.txt:1: a landmark line needs a path and 14 numbers", err)
  end)
end)

describe("data readers on the shared sets", function()
  it("read the WIDER subset and the official files", function()
    helper.need_shared("WIDER FACE")
    local root = helper.shared .. "/data/wider"
    local set, stats = data.read_wider(root .. "/wider_face_split/wider_face_train_bbx_gt.txt",
                                       {images = root .. "/WIDER_train/images"})
    assert.are.equal(12880, stats.listed)
    assert.are.equal(1024, stats.kept)
    assert.are.equal(12880 - 1024, stats.missing)
    -- the data README counts 22,455 face lines; one is a zero-face image's placeholder
    assert.are.equal(22454, stats.faces)
    local big = 0
    for _, e in ipairs(set) do
      for _, f in ipairs(e.faces) do if math.max(f.w, f.h) >= 20 then big = big + 1 end end
    end
    assert.are.equal(9690, big) -- the data README's count
    local sub = assert(data.read_wider(root .. "/wider_face_split/wider_face_train_bbx_gt.subset.txt",
                                       {images = root .. "/WIDER_train/images"}))
    assert.are.equal(1024, #sub)
    local val, vstats = data.read_wider(root .. "/wider_face_split/wider_face_val_bbx_gt.txt",
                                        {images = root .. "/WIDER_val/images"})
    assert.are.equal(3226, vstats.listed)
    assert.are.equal(158, #val)
    -- the README counts 4,162 lines; one of them is a zero-face image's placeholder
    assert.are.equal(4161, vstats.faces)
    assert.are.equal(4, vstats.empty) -- listed images without faces
  end)

  it("read the landmark list", function()
    helper.need_shared("the landmark set")
    local root = helper.shared .. "/data/landmarks"
    local set, stats = data.read_landmarks(root .. "/trainImageList.txt", {images = root})
    assert.are.same({listed = 10000, kept = 5849, missing = 4151}, stats)
    local e = set[1]
    assert.are.equal("net_7876/0_0_0.jpg", e.name)
    assert.are.same({104, 95, 308, 299}, e.box)
    assert.are.same({151, 246, 209, 161, 235, 147, 148, 194, 237, 235}, e.points)
    local test = assert(data.read_landmarks(root .. "/testImageList.dev.txt", {images = root}))
    assert.are.equal(1014, #test)
  end)
end)

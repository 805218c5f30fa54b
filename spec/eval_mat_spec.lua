-- The MAT-file reader (mtcnn.eval.mat over runtime/eval/mt_matfile.c): hand-built
-- level-5 files for every supported element, malformed files, and the WIDER
-- FACE evaluation ground truth cross-checked against wider_face_val_bbx_gt.txt.

local helper = require "helper"
local mat = require "mtcnn.eval.mat"

-- ---- a tiny MAT-file writer, for the tests only ----------------------------------------------

local MI = {INT8 = 1, UINT8 = 2, UINT16 = 4, INT32 = 5, UINT32 = 6, DOUBLE = 9, MATRIX = 14}
local CLASS = {cell = 1, struct = 2, char = 4, sparse = 5, double = 6, int32 = 12}

local function writer(big)
  local E = big and ">" or "<"
  local w = {}
  local function pad8(s) return s .. ("\0"):rep((8 - #s % 8) % 8) end
  function w.elem(typ, data)
    return pad8(string.pack(E .. "I4I4", typ, #data) .. data)
  end
  function w.small(typ, data) -- the 4-byte form: count and type share the first word
    local word = (#data << 16) | typ
    return string.pack(E .. "I4", word) .. data .. ("\0"):rep(4 - #data)
  end
  function w.values(typ, fmt, list)
    local parts = {}
    for i, v in ipairs(list) do parts[i] = string.pack(E .. fmt, v) end
    return w.elem(typ, table.concat(parts))
  end
  function w.matrix(class, dims, name, body, flags)
    local head = w.elem(MI.UINT32, string.pack(E .. "I4I4", class | (flags or 0), 0))
      .. w.values(MI.INT32, "i4", dims)
      .. (#name <= 4 and #name > 0 and w.small(MI.INT8, name) or w.elem(MI.INT8, name))
    return w.elem(MI.MATRIX, head .. (body or ""))
  end
  function w.file(...)
    local text = ("MATLAB 5.0 MAT-file, written by eval_mat_spec"):sub(1, 116)
    text = text .. (" "):rep(116 - #text)
    local header = text .. ("\0"):rep(8) .. (big and "\1\0MI" or "\0\1IM")
    return header .. table.concat({...})
  end
  return w
end

local function with_file(data, fn)
  local dir = helper.tmpdir()
  local path = dir .. "/t.mat"
  helper.write_file(path, data)
  local ok, err = pcall(fn, path)
  helper.rmdir(dir)
  if not ok then error(err, 0) end
end

local function sample(big)
  local w = writer(big)
  return w.file(
    w.matrix(CLASS.double, {2, 3}, "m", w.values(MI.DOUBLE, "d", {1, 2, 3, 4, 5.5, -6})),
    -- int32 class stored as uint8, as MATLAB does for small values
    w.matrix(CLASS.int32, {3, 1}, "ints", w.values(MI.UINT8, "B", {7, 0, 255})),
    w.matrix(CLASS.char, {1, 5}, "word", w.values(MI.UINT16, "I2", {104, 0xE9, 108, 108, 111})),
    w.matrix(CLASS.char, {2, 3}, "rows", w.values(MI.UINT16, "I2", {97, 100, 98, 101, 99, 102})),
    w.matrix(CLASS.cell, {1, 3}, "c",
      w.matrix(CLASS.double, {1, 2}, "", w.values(MI.DOUBLE, "d", {10, 20}))
      .. w.matrix(CLASS.char, {1, 1}, "", w.values(MI.UINT16, "I2", {120}))
      .. w.elem(MI.MATRIX, "")), -- an empty element: [] in a cell
    w.matrix(CLASS.struct, {1, 1}, "s",
      w.small(MI.INT32, string.pack((big and ">" or "<") .. "i4", 8))
      .. w.elem(MI.INT8, "a\0\0\0\0\0\0\0bb\0\0\0\0\0\0")
      .. w.matrix(CLASS.double, {1, 1}, "", w.values(MI.DOUBLE, "d", {7}))
      .. w.matrix(CLASS.char, {1, 2}, "", w.values(MI.UINT16, "I2", {104, 105}))))
end

local function check_sample(vars)
  assert.are.equal(6, #vars)
  local m = vars.m
  assert.are.equal("double", m.class)
  assert.are.same({2, 3}, m.dims)
  assert.are.same({1, 2, 3, 4, 5.5, -6}, m.values)
  assert.are.same({3, 1}, vars.ints.dims)
  assert.are.equal("int32", vars.ints.class)
  assert.are.same({7, 0, 255}, vars.ints.values)
  assert.are.equal("integer", math.type(vars.ints.values[1]))
  assert.is_true(mat.is_integer(vars.ints))
  assert.is_false(mat.is_integer(m))
  assert.are.equal("h\xC3\xA9llo", vars.word.text) -- U+00E9 as UTF-8
  assert.are.equal("abcdef", vars.rows.text)     -- rows concatenated
  local c = vars.c
  assert.are.equal("cell", c.class)
  assert.are.equal(3, #c.items)
  assert.are.same({10, 20}, mat.cell(c, 1).values)
  assert.are.same({10, 20}, mat.cell(c, 1, 1).values)
  assert.are.equal("x", mat.cell(c, 2).text)
  assert.are.same({0, 0}, mat.cell(c, 3).dims)
  local s = vars.s
  assert.are.equal("struct", s.class)
  assert.are.same({"a", "bb"}, s.fields)
  assert.are.same({7}, s.items[1].a.values)
  assert.are.equal("hi", s.items[1].bb.text)
  assert.are.same({3, 4}, mat.column(m, 2))
end

describe("mat.read", function()
  it("reads every kind of element of a little-endian file", function()
    with_file(sample(false), function(path) check_sample(assert(mat.read(path))) end)
  end)

  it("reads a big-endian file the same way", function()
    with_file(sample(true), function(path) check_sample(assert(mat.read(path))) end)
  end)

  it("refuses malformed and unsupported files with a message naming the file", function()
    local full = sample(false)
    with_file(full:sub(1, #full - 20), function(path)
      local v, err = mat.read(path)
      assert.is_nil(v)
      assert.truthy(err:find(path, 1, true), err)
      assert.truthy(err:find("byte %d+"), err)
    end)
    with_file(("x"):rep(200), function(path)
      local v, err = mat.read(path)
      assert.is_nil(v)
      assert.truthy(err:find("not a level%-5 MAT%-file"), err)
    end)
    with_file(("\0"):rep(512) .. "\x89HDF\r\n\x1a\n" .. ("\0"):rep(100), function(path)
      local _, err = mat.read(path)
      assert.truthy(err:find("v7.3"), err)
    end)
    local w = writer(false)
    with_file(w.file(w.matrix(CLASS.sparse, {2, 2}, "sp", "")), function(path)
      local _, err = mat.read(path)
      assert.truthy(err:find("'sp' is a sparse array"), err)
    end)
    with_file(w.file(w.matrix(CLASS.double, {1, 1}, "z", w.values(MI.DOUBLE, "d", {1})
      .. w.values(MI.DOUBLE, "d", {2}), 0x800)), function(path)
      local _, err = mat.read(path)
      assert.truthy(err:find("'z' is complex"), err)
    end)
    -- values that do not fill the dimensions
    with_file(w.file(w.matrix(CLASS.double, {2, 2}, "short", w.values(MI.DOUBLE, "d", {1, 2, 3}))),
      function(path)
        local _, err = mat.read(path)
        assert.truthy(err:find("short has 24 bytes, 4 values of 8 bytes expected"), err)
      end)
    local v, err = mat.read("/nonexistent/x.mat")
    assert.is_nil(v)
    assert.truthy(err:find("/nonexistent/x.mat: cannot open"), err)
  end)
end)

describe("mat.read on damaged files", function()
  it("never fails other than with nil and a message: every truncation and many corruptions", function()
    local full = sample(false)
    local dir = helper.tmpdir()
    local path = dir .. "/t.mat"
    local function try(data)
      helper.write_file(path, data)
      local ok, v, err = pcall(mat.read, path)
      assert.is_true(ok, v)
      if v == nil then assert.are.equal("string", type(err)) end
    end
    for cut = 0, #full - 1 do try(full:sub(1, cut)) end
    local rng = require("mtcnn.tensor").generator(7)
    for _ = 1, 400 do
      local i = rng:integer(129, #full)
      try(full:sub(1, i - 1) .. string.char(rng:integer(0, 255)) .. full:sub(i + 1))
    end
    helper.rmdir(dir)
  end)
end)

describe("mat.read on the WIDER FACE ground truth", function()
  local gt_dir = helper.shared .. "/data/wider/eval_tools/ground_truth"

  it("reads wider_face_val.mat and agrees with wider_face_val_bbx_gt.txt", function()
    helper.need_shared("the WIDER ground truth")
    local vars = assert(mat.read(gt_dir .. "/wider_face_val.mat"))
    local names = {}
    for i, v in ipairs(vars) do names[i] = v.name end
    assert.are.same({"blur_label_list", "event_list", "expression_label_list", "face_bbx_list",
                     "file_list", "illumination_label_list", "invalid_label_list",
                     "occlusion_label_list", "pose_label_list"}, names)
    assert.are.same({61, 1}, vars.event_list.dims)
    assert.are.equal("0--Parade", mat.cell(vars.event_list, 1).text)
    -- index the .mat boxes by "event/name"
    local by, images = {}, 0
    for e, ev in ipairs(vars.event_list.items) do
      for j, f in ipairs(mat.cell(vars.file_list, e).items) do
        by[ev.text .. "/" .. f.text] = mat.cell(mat.cell(vars.face_bbx_list, e), j)
        images = images + 1
      end
    end
    -- every block of the text file: same face count, same x y w h
    local f = assert(io.open(helper.shared .. "/data/wider/wider_face_split/wider_face_val_bbx_gt.txt"))
    local n, faces, differ = 0, 0, {}
    while true do
      local name = f:read("l")
      if not name then break end
      local count = tonumber(f:read("l"))
      local key = name:gsub("%.jpg$", "")
      local bb = by[key]
      assert.is_not_nil(bb, key)
      assert.are.equal("int32", bb.class)
      assert.are.equal(count, bb.dims[1], key)
      for i = 1, math.max(count, 1) do
        local line = f:read("l")
        if i <= count then
          local x, y, w, h = line:match("^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+)")
          local r, v = bb.dims[1], bb.values
          local got = {v[i], v[i + r], v[i + 2 * r], v[i + 3 * r]}
          local want = {tonumber(x), tonumber(y), tonumber(w), tonumber(h)}
          for k = 1, 4 do
            if got[k] ~= want[k] then differ[#differ + 1] = ("%s face %d: %d vs %d"):format(key, i, got[k], want[k]) end
          end
        end
      end
      n = n + 1
      faces = faces + count
    end
    f:close()
    assert.are.equal(3226, n)
    assert.are.equal(n, images)
    assert.are.equal(39708, faces)
    -- the one known disagreement: a zero-width face is -2 wide in the .mat
    assert.are.same({"39--Ice_Skating/39_Ice_Skating_iceskiing_39_583 face 8: -2 vs 0"}, differ)
  end)

  it("reads the easy/medium/hard lists: valid 1-based indices, easy within medium within hard", function()
    helper.need_shared("the WIDER ground truth")
    local base = assert(mat.read(gt_dir .. "/wider_face_val.mat"))
    local lists = {}
    for _, s in ipairs({"easy", "medium", "hard"}) do
      local v = assert(mat.read(gt_dir .. "/wider_" .. s .. "_val.mat"))
      assert.are.equal("cell", v.gt_list.class)
      lists[s] = v.gt_list
    end
    local checked = 0
    for e = 1, 61 do
      local boxes = mat.cell(base.face_bbx_list, e)
      for j = 1, #boxes.items do
        local n = mat.cell(boxes, j).dims[1]
        local sets = {}
        for _, s in ipairs({"easy", "medium", "hard"}) do
          local keep = mat.cell(mat.cell(lists[s], e), j)
          local set = {}
          for _, i in ipairs(keep.values) do
            assert.is_true(i >= 1 and i <= n and i == math.floor(i))
            set[i] = true
          end
          sets[s] = set
        end
        for i in pairs(sets.easy) do assert.is_true(sets.medium[i]) end
        for i in pairs(sets.medium) do assert.is_true(sets.hard[i]) end
        checked = checked + 1
      end
    end
    assert.are.equal(3226, checked)
  end)
end)

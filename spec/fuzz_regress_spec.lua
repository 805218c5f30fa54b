-- The inputs the fuzzers found (fuzz/regress/NAME/, one folder per harness of fuzz/), replayed
-- through the same readers in every spec run: each gives a result or nil and a message, never
-- a raised error or a crash (docs/reliability.md, "Fuzzing").
local helper = require "helper"
local mtcnn = require "mtcnn"
local sys = require "mtcnn.sys"

local function result(v, err)
  if v == nil then assert.is_string(err) end
  return v
end

local data = require "mtcnn.data"
local predictions = require "mtcnn.eval.predictions"

-- name -> function(path, bytes), as the harness of that name reads its input
local READERS = {
  image = function(path)
    local im = result(mtcnn.image.load(path))
    if im then im:free() end
  end,
  tensor = function(path) result(mtcnn.tensor.load(path)) end,
  model = function(path) result(require("mtcnn.core").nn.load_model(path)) end,
  modelfile = function(path) result(mtcnn.models.load(path)) end,
  record = function(path)
    local f = result(mtcnn.record.open(path))
    if f then
      f:verify()
      for i = 1, math.min(f.count, 4096) do pcall(f.get, f, i) end
      f:close()
    end
  end,
  mat = function(path) result(require("mtcnn.eval.mat").read(path)) end,
  json = function(_, bytes)
    local v = result(mtcnn.json.decode(bytes))
    if v ~= nil then assert(mtcnn.json.decode(mtcnn.json.encode(v))) end
  end,
  caffemodel = function(path) result(require("mtcnn.caffe").read_caffemodel(path)) end,
  prototxt = function(path) result(require("mtcnn.caffe").read_prototxt(path)) end,
  wider = function(path) result(data.read_wider(path, {check = false})) end,
  list = function(path) result(data.read_list(path, {check = false})) end,
  landmarks = function(path)
    result(data.read_landmarks(path, {check = false}))
    result(require("mtcnn.eval.landmarks").read_list(path))
  end,
  fddb = function(path)
    local fddb = require "mtcnn.eval.fddb"
    result(fddb.read_ellipse_list(path))
    result(fddb.read_sizes(path))
    result(predictions.read_rect_file(path))
  end,
  jsonl = function(path)
    result(predictions.read_jsonl(path))
    result(predictions.read_wider_file(path))
  end,
}

describe("fuzz finds", function()
  local root = helper.home .. "/fuzz/regress"
  local names = sys.listdir(root) or {}
  it("every kept find belongs to a harness", function()
    for _, name in ipairs(names) do assert.is_function(READERS[name], name) end
  end)
  for _, name in ipairs(names) do
    for _, file in ipairs(sys.listdir(root .. "/" .. name) or {}) do
      it(name .. "/" .. file .. " is read cleanly", function()
        local path = root .. "/" .. name .. "/" .. file
        local t0 = os.clock()
        READERS[name](path, helper.read_file(path))
        -- (some finds were hangs: each is read at once now, also under the sanitizers)
        assert.is_true(os.clock() - t0 < 1, "took " .. os.clock() - t0 .. " s")
      end)
    end
  end
end)

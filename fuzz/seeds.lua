-- fuzz/seeds.lua OUT: writes the seed corpus of every harness to OUT/<name>/, taken from the
-- spec fixtures (decoding fixtures, record fixtures, the bundled model, the specs' list and
-- JSON texts) and, when ../shared is there, the original Caffe files.
--   mtcnn fuzz/seeds.lua build-fuzz/seeds
local mtcnn = require "mtcnn"
local sys = require "mtcnn.sys"

local out = assert(arg[1], "usage: mtcnn fuzz/seeds.lua OUT")
local home = os.getenv("MTCNN_HOME") or "."
package.path = home .. "/spec/?.lua;" .. package.path

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local count = {}
local function seed(name, data, tag)
  local dir = out .. "/" .. name
  assert(sys.mkdir(dir))
  count[name] = (count[name] or 0) + 1
  assert(sys.write_atomic(("%s/%s"):format(dir, tag or ("seed" .. count[name])), data))
end

-- images: the decoding fixtures (EXIF orientations, CMYK, 16-bit, palette, interlaced ...)
for _, name in ipairs(sys.listdir(home .. "/spec/fixtures/decode")) do
  if name:match("%.jpg$") or (name:match("%.png$") and not name:match("expected")) then
    seed("image", read(home .. "/spec/fixtures/decode/" .. name), name)
  end
end

-- tensors and models: small tensors of each rank, the bundled PNet (and a tiny net)
local tmp = os.tmpname()
for i, t in ipairs{mtcnn.tensor.zeros{3}, mtcnn.tensor.arange(0, 24):view{2, 3, 4},
                   mtcnn.tensor.zeros{1, 1, 1, 2}} do
  assert(t:save(tmp))
  seed("tensor", read(tmp), "t" .. i .. ".mtt")
end
seed("model", read(home .. "/models/original/pnet.mtn"), "pnet.mtn")
seed("modelfile", read(home .. "/models/original/pnet.mtn"), "pnet.mtn")
local net = mtcnn.models.pnet{landmarks = false, seed = 1}
assert(mtcnn.models.save(net, tmp))
seed("model", read(tmp), "pnet_nolmk.mtn")
seed("modelfile", read(tmp), "pnet_nolmk.mtn")

-- records: the record fixtures, one block and several, every class
local F = require "record_fixtures"
for i, o in ipairs{{3, {1}, {block = 4}}, {9, nil, {block = 4, commit_every = 5}}, {2, {0, -2}, {size = 24, block = 2}}} do
  F.write(tmp, o[1], o[2], o[3])
  seed("record", read(tmp), "r" .. i .. ".rec")
end
os.remove(tmp)

-- MAT: a level-5 file holding a 2x2 double matrix and a cell of one char array
local function pad8(s) return s .. ("\0"):rep((8 - #s % 8) % 8) end
local function elem(typ, data) return pad8(string.pack("<I4I4", typ, #data) .. data) end
local function matrix(class, dims, name, body)
  local d = {}
  for k, v in ipairs(dims) do d[k] = string.pack("<i4", v) end
  return elem(14, elem(6, string.pack("<I4I4", class, 0)) .. elem(5, table.concat(d)) ..
    elem(1, name) .. body)
end
local mat_head = ("MATLAB 5.0 MAT-file, fuzz seed"):rep(4):sub(1, 116) .. ("\0"):rep(8) ..
  string.pack("<I2", 0x0100) .. "IM"
seed("mat", mat_head .. matrix(6, {2, 2}, "m", elem(9, string.pack("<dddd", 1, 2, 3, 4))), "m.mat")
seed("mat", mat_head .. matrix(1, {1, 1}, "c", matrix(4, {1, 3}, "", elem(4, "a\0b\0c\0"))), "c.mat")

-- JSON and JSON Lines
for i, s in ipairs{'{"a": [1, 2.5e-3, -0, true, false, null], "b": {"c": "\\u00e9\\n"}}', '[]',
                   '"x"', '[1e308, -1e-308, 12345678901234567890]'} do
  seed("json", s, "j" .. i .. ".json")
end
seed("jsonl", '{"image": "e/a.jpg", "width": 10, "height": 8, "faces": [{"box": [1, 2, 3, 4], ' ..
  '"score": 0.9, "landmarks": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]}]}\n', "p.jsonl")
seed("jsonl", "2002/a\n2\n1 2 3 4 0.9\n5 6 7 8 0.1\n2002/b\n0\n", "wider.txt")

-- the list formats of the data sets
seed("wider", "0--Parade/0_Parade_marchingband_1_849.jpg\n1\n449 330 122 149 0 0 0 0 0 0 \n" ..
  "0--Parade/0_Parade_Parade_0_904.jpg\n2\n361 98 263 339 0 0 0 0 0 0 \n1 2 3 4 2 0 1 0 1 0 \n" ..
  "0--Parade/x.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n", "wider_gt.txt")
seed("list", "img/a.jpg 1 2 10 20\nimg/b.jpg 3 4 30 40 5 6 7 8\n", "list.txt")
seed("landmarks", "net_7876\\a.jpg 100 200 50 150 130.0 90.0 170.0 90.0 150.0 110.0 135.0 130.0 " ..
  "165.0 130.0\r\nlfw_5590\\b.jpg 10 110 20 120 40 50 80 50 60 70 45 90 75 90\r\n", "landmarks.txt")
seed("fddb", "2002/08/11/big/img_591\n1\n123.583300 85.549500 1.265839 269.693400 161.781200  1\n" ..
  "2002/08/26/big/img_265\n2\n67.363819 44.511485 -1.476417 105.249970 87.209036  1\n" ..
  "41.936870 27.064477 1.471906 184.070915 129.345601  1\n", "ellipses.txt")
seed("fddb", "2002/a\r\n2\r\n1 2 3 4 0.9\r\n5 6 7 8 0.1\r\n2002/b\r\n0\r\n", "rects.txt")
seed("fddb", "2002/a 450 338\n2002/b 300 200\n", "sizes.txt")

-- Caffe: a prototxt of the specs and, with ../shared, the original det1 files
seed("prototxt", 'name: "PNet"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 12\n' ..
  'input_dim: 12\nlayer {\n  name: "conv1"\n  type: "Convolution"\n  bottom: "data"\n  top: "conv1"\n' ..
  '  convolution_param { num_output: 10 kernel_size: 3 stride: 1 weight_filler { type: "xavier" } }\n}\n',
  "p.prototxt")
local shared = os.getenv("MTCNN_SHARED") or (home .. "/../shared")
local det1 = shared .. "/models/caffe/det1"
if sys.stat(det1 .. ".caffemodel") then
  seed("caffemodel", read(det1 .. ".caffemodel"), "det1.caffemodel")
  seed("prototxt", read(det1 .. ".prototxt"), "det1.prototxt")
else
  -- a hand-made NetParameter: name "x", one layer {name "a", type "Convolution", one blob}
  local function varint(v)
    local b = {}
    repeat
      b[#b + 1] = string.char((v & 0x7f) | (v > 0x7f and 0x80 or 0))
      v = v >> 7
    until v == 0
    return table.concat(b)
  end
  local function field(n, s) return varint(n << 3 | 2) .. varint(#s) .. s end
  local blob = field(7, string.char(0x0a, 2, 1, 2)) .. field(5, string.pack("<ff", 0.5, -1))
  seed("caffemodel", field(1, "x") .. field(100, field(1, "a") .. field(2, "Convolution") ..
    field(7, blob)), "tiny.caffemodel")
end

local names = {}
for name in pairs(count) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do io.stderr:write(("%s: %d seed(s)\n"):format(name, count[name])) end

-- import_caffe.lua: turns the original MTCNN Caffe models into a model folder.
--   mtcnn scripts/import_caffe.lua --caffe DIR --out DIR [--name NAME]
-- DIR holds det1/det2/det3 .prototxt and .caffemodel (MTCNNv1). The output
-- folder gets pnet.mtn, rnet.mtn, onet.mtn, manifest.json and the licence.

local mtcnn = require "mtcnn"
local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local models = require "mtcnn.models"
local import = require "mtcnn.caffe_import"
local detector = require "mtcnn.detector"

local args, fail = cli.script(arg, {
  name = "import_caffe.lua",
  usage = "mtcnn scripts/import_caffe.lua --caffe DIR --out DIR [--name NAME]",
  description = "Imports the original MTCNN Caffe models (det1, det2, det3) as a model folder:\n" ..
    "weights re-laid for normal (untransposed) RGB images, checksummed net files, a manifest.",
  options = {
    {name = "caffe", kind = "string", metavar = "DIR", required = true, help = "folder with det1..det3 .prototxt/.caffemodel"},
    {name = "out", kind = "string", metavar = "DIR", required = true, help = "model folder to write"},
    {name = "name", kind = "string", default = "mtcnn-original", help = "model name in the manifest"},
  },
})

local nets, err = import.load(args.caffe)
if not nets then fail(err) end

-- the sha256 of the source files, when the system has sha256sum
local function sha256(path)
  local p = io.popen("sha256sum '" .. path:gsub("'", "'\\''") .. "' 2>/dev/null")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  return out:match("^(%x+)")
end

local ok
ok, err = mtcnn.sys.mkdir(args.out)
if not ok then fail(err, cli.EXIT.output) end

local files, sources = {}, {}
for _, arch in ipairs({"pnet", "rnet", "onet"}) do
  local file = arch .. ".mtn"
  ok, err = models.save(nets[arch], args.out .. "/" .. file)
  if not ok then fail(err, cli.EXIT.output) end
  files[arch] = file
  local det = import.LAYERS[arch].file
  for _, ext in ipairs({".prototxt", ".caffemodel"}) do
    sources[det .. ext] = sha256(args.caffe .. "/" .. det .. ext) or "unknown"
  end
end

-- the licence travels with the weights
local licence_text
for _, name in ipairs({"LICENSE.kpzhang93", "LICENSE"}) do
  local f = io.open(args.caffe .. "/" .. name, "rb")
  if f then
    licence_text = f:read("a")
    f:close()
    break
  end
end

local preset = detector.PRESETS.original
local manifest = json.ordered({
  name = args.name,
  format = 1,
  nets = json.ordered(files, {"pnet", "rnet", "onet"}),
  provenance = "The original MTCNN models (Zhang et al. 2016; github.com/kpzhang93/" ..
    "MTCNN_face_detection_alignment, code/codes/MTCNNv1/model, det1-det3), imported with " ..
    "scripts/import_caffe.lua of mtcnn " .. mtcnn.version .. ": convolution kernels transposed " ..
    "spatially and the first fully connected layers re-ordered, so that the nets take normal " ..
    "(untransposed) images.",
  licence = "MIT, Copyright (c) 2016 Kaipeng Zhang (see LICENSE in this folder)",
  sources = sources,
  preprocessing = json.ordered({colour = "RGB", layout = "NCHW", mean = 127.5, scale = 0.0078125},
    {"colour", "layout", "mean", "scale"}),
  -- the original's output conventions: landmarks decode as w * u + x1 - 1 (0-based x1),
  -- PNet's regression scales with x2 - x1 (no +1)
  conventions = json.ordered({landmark_offset = 1, pnet_width_plus_one = false},
    {"landmark_offset", "pnet_width_plus_one"}),
  detection = json.ordered({min_face = preset.min_face, factor = preset.factor,
    thresholds = preset.thresholds, nms = preset.nms, nms_onet = preset.nms_onet, resize = "area"},
    {"min_face", "factor", "thresholds", "nms", "nms_onet", "resize"}),
}, {"name", "format", "nets", "provenance", "licence", "sources", "preprocessing", "conventions",
    "detection"})

local function write_atomic(path, text)
  local ok, werr = mtcnn.sys.write_atomic(path, text)
  if not ok then fail(werr, cli.EXIT.output) end
end

write_atomic(args.out .. "/manifest.json", json.encode(manifest, {indent = "  "}) .. "\n")
if licence_text then write_atomic(args.out .. "/LICENSE", licence_text) end
print(("import_caffe: wrote %s (pnet %d, rnet %d, onet %d parameters)"):format(args.out,
  nets.pnet:num_parameters(), nets.rnet:num_parameters(), nets.onet:num_parameters()))

-- Benchmark mode "detect": median time of detector:detect on an image that is
-- already decoded (decoding is timed apart), the time and the candidate
-- windows of each stage, and the GFLOP/s each stage sustains. With --images N > 1 each
-- timed call is detector:detect_batch on N copies of the image (RNet and ONet crops batched
-- across them); images_per_s counts the images. --device cuda runs the nets on the GPU (the
-- detector's device option); all (the default) is the CPU, and the GPU when one is present.

local mtcnn = require "mtcnn"
local bench = require "mtcnn.bench"
local flops = require "mtcnn.bench.flops"

local M = {}

M.options = {
  {name = "image", kind = "string", metavar = "FILE",
   help = "image to detect in [default: ../shared/images/multiface_640x480.png, else the astronaut]"},
  {name = "model", kind = "string", metavar = "DIR|NAME", help = "model folder, or the name of a folder of models/ (original: the default)"},
  {name = "min-face", kind = "number", default = 20, help = "minimum face size"},
  {name = "threads", kind = "int", help = "threads of the C kernels [default: all CPUs]"},
  {name = "resize", kind = "string", choices = {"area", "bilinear"}, default = "area", help = "resizing"},
  {name = "images", kind = "int", default = 1, help = "images per detect call (batched when > 1)"},
}

local function default_image()
  local shared = (mtcnn.home or ".") .. "/../shared/images/multiface_640x480.png"
  if mtcnn.sys.stat(shared) then return shared end
  return (mtcnn.home or ".") .. "/examples/astronaut.png"
end

function M.run(args, report)
  if args.threads then mtcnn.sys.set_threads(args.threads) end
  if args.images < 1 then error("bench detect: --images must be at least 1") end
  local path = args.image or default_image()
  local img
  local dec = bench.time(function() img = assert(mtcnn.image.load(path)) end,
    {warmup = 1, reps = math.max(3, args.reps // 4)})
  for _, device in ipairs(bench.devices(args.device, "detect")) do
    M.run_on(device, args, report, path, img, dec)
  end
end

function M.run_on(device, args, report, path, img, dec)
  local det = assert(mtcnn.detector.new{model = args.model, min_face = args.min_face,
    resize = args.resize, device = device})
  local batch = {}
  for i = 1, args.images do batch[i] = img end

  local per_stage = {pnet = {}, rnet = {}, onet = {}}
  local faces
  local r = bench.time(function()
    if args.images == 1 then
      faces = det:detect(img)
    else
      faces = det:detect_batch(batch)[1]
    end
    for k, v in pairs(per_stage) do v[#v + 1] = det.stats[k].ms end
  end, {warmup = 2, reps = args.reps})

  -- the work of each stage for this image
  local pnet_flops = 0
  for _, s in ipairs(det:scales(img.height, img.width)) do
    pnet_flops = pnet_flops + flops.forward(det.pnet, 3, math.ceil(img.height * s), math.ceil(img.width * s))
  end
  pnet_flops = pnet_flops * args.images
  local work = {
    pnet = pnet_flops,
    rnet = det.stats.rnet.windows * flops.forward(det.rnet, 3, 24, 24),
    onet = det.stats.onet.windows * flops.forward(det.onet, 3, 48, 48),
  }
  local stages = {}
  for _, k in ipairs({"pnet", "rnet", "onet"}) do
    local ms = bench.median(per_stage[k])
    stages[k] = {ms = ms, windows = det.stats[k].windows, kept = det.stats[k].kept,
                 gflop = work[k] / 1e9, gflops = ms > 0 and work[k] / 1e6 / ms or 0}
  end
  report{
    bench = "detect", image = path, width = img.width, height = img.height,
    min_face = args.min_face, threads = mtcnn.sys.threads(), resize = args.resize,
    device = device, gpu = device == "cuda" and mtcnn.cuda.device_info().name or nil,
    images = args.images, images_per_s = args.images / r.median,
    ms_median = r.median * 1e3, ms_min = r.min * 1e3, decode_ms = dec.median * 1e3,
    faces = #faces, stages = stages,
  }
end

return M

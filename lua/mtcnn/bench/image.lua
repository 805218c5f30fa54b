-- Benchmark mode "image": JPEG decoding, the detector's resizes (pyramid
-- levels and crop batches straight into normalised tensors), NMS, and MTCNN
-- sample generation over WIDER_train.
--
--   mtcnn scripts/bench.lua image [--boxes 256] [--wider 0] [--reps 20] [--json]
--
-- The test picture is a 1024-pixel-wide JPEG made from a shared photo (or a
-- synthetic picture when ../shared is absent), encoded at quality 95.

local mtcnn = require "mtcnn"
local bench = require "mtcnn.bench"

local image, box, sample, data, T, sys = mtcnn.image, mtcnn.box, mtcnn.sample, mtcnn.data,
  mtcnn.tensor, mtcnn.sys

local M = {}

M.options = {
  {name = "boxes", kind = "int", default = 256, help = "crops per batch"},
  {name = "wider", kind = "int", default = 0, help = "WIDER_train images for sample generation (0: all)"},
  {name = "shared", kind = "string", default = "", help = "the shared data folder (default: ../shared)"},
  {name = "write-jpeg", kind = "string", default = "",
   help = "also write the test JPEG here (for scripts/opencv_image_bench.py)"},
}

local function shared_dir(args)
  if args.shared ~= "" then return args.shared end
  return os.getenv("MTCNN_SHARED") or ((mtcnn.home or ".") .. "/../shared")
end

-- the 1024-wide test JPEG, as bytes
local function test_jpeg(shared)
  local src = image.load(shared .. "/data/dlib_faces/bald_guys.jpg")
  if not src then
    src = image.new(1986, 1545)
    local g = T.generator(1)
    for _ = 1, 3000 do
      local x, y = g:integer(0, 1985), g:integer(0, 1544)
      src:draw_rect(x, y, x + g:integer(4, 60), y + g:integer(4, 60),
                    {fill = true, color = {g:integer(0, 255), g:integer(0, 255), g:integer(0, 255)}})
    end
  end
  local h = math.floor(src.height * 1024 / src.width + 0.5)
  return src:resize(1024, h, "area"):encode("jpg", 95), h
end

-- the pyramid sizes of the original detector (min face 20, factor 0.709)
local function pyramid(w, h)
  local sizes, m = {}, 12 / 20
  local minl, s = math.min(w, h) * m, m
  while minl >= 12 do
    sizes[#sizes + 1] = {math.ceil(w * s), math.ceil(h * s)}
    s, minl = s * 0.709, minl * 0.709
  end
  return sizes
end

-- n random square boxes (sides 20..220, a tenth crossing the border), as an [n, 4] tensor
local function random_boxes(n, w, h, seed)
  local g = T.generator(seed)
  local t = T.zeros(n, 4)
  for i = 1, n do
    local s = g:integer(20, 220)
    local x, y = g:integer(-s // 4, w - s + s // 4), g:integer(-s // 4, h - s + s // 4)
    t:set(i, 1, x); t:set(i, 2, y); t:set(i, 3, x + s - 1); t:set(i, 4, y + s - 1)
  end
  return t
end

function M.run(args, report)
  local shared = shared_dir(args)
  local threads = sys.threads()
  local jpeg, height = test_jpeg(shared)
  local reps = args.reps
  if args.write_jpeg ~= "" then
    local f = assert(io.open(args.write_jpeg, "wb"))
    f:write(jpeg)
    f:close()
  end

  -- decoding (each picture freed at once, as a loader does with <close>)
  local r = bench.time(function() assert(image.decode(jpeg)):free() end, {warmup = 2, reps = reps})
  local img = assert(image.decode(jpeg))
  local decode_s = r.median
  report{bench = "image", op = "decode_jpeg", size = ("1024x%d"):format(height), threads = threads,
         ms_median = r.median * 1e3, ms_min = r.min * 1e3, mpix_per_s = 1024 * height / r.median / 1e6}

  -- the detection pyramid into normalised tensors
  local levels = pyramid(img.width, img.height)
  local outs = {}
  for i, s in ipairs(levels) do outs[i] = T.empty(1, 3, s[2], s[1]) end
  for _, method in ipairs({"area", "bilinear"}) do
    r = bench.time(function()
      for i, s in ipairs(levels) do img:resize_to_tensor(s[1], s[2], {method = method, out = outs[i]}) end
    end, {warmup = 2, reps = reps})
    report{bench = "image", op = "pyramid_" .. method, size = ("%d levels"):format(#levels),
           threads = threads, ms_median = r.median * 1e3, ms_min = r.min * 1e3}
  end

  -- crop batches
  local n = args.boxes
  local boxes = random_boxes(n, img.width, img.height, 7)
  for _, size in ipairs({24, 48}) do
    local out = T.empty(n, 3, size, size)
    for _, method in ipairs({"area", "bilinear"}) do
      r = bench.time(function() img:crop_resize(boxes, size, {method = method, out = out}) end,
                     {warmup = 2, reps = reps})
      report{bench = "image", op = ("crop_resize_%d_%s"):format(size, method), size = n .. " boxes",
             threads = threads, ms_median = r.median * 1e3, ms_min = r.min * 1e3,
             crops_per_s = n / r.median,
             decode_and_crops_per_s = n / (r.median + decode_s)}
    end
  end

  -- NMS on a PNet-sized candidate set
  local cand = T.zeros(2000, 5)
  local g = T.generator(3)
  local rb = random_boxes(2000, img.width, img.height, 9)
  cand:narrow(2, 1, 4):copy_(rb)
  for i = 1, 2000 do cand:set(i, 5, g:uniform()) end
  for _, t in ipairs({0.5, 0.7}) do
    r = bench.time(function() box.nms(cand, t) end, {warmup = 2, reps = reps})
    report{bench = "image", op = ("nms_union_%.1f"):format(t), size = "2000 boxes", threads = threads,
           ms_median = r.median * 1e3, ms_min = r.min * 1e3}
  end

  -- sample generation over WIDER_train (decode on the pool, sample, cut)
  local root = shared .. "/data/wider"
  local set = data.read_wider(root .. "/wider_face_split/wider_face_train_bbx_gt.subset.txt",
                              {images = root .. "/WIDER_train/images"})
  if set and #set > 0 then
    local count = args.wider > 0 and math.min(args.wider, #set) or #set
    local t0 = sys.clock()
    local samples, decode_time = 0, 0
    local chunk = 16
    for first = 1, count, chunk do
      local paths = {}
      for i = first, math.min(first + chunk - 1, count) do paths[#paths + 1] = set[i].path end
      local d0 = sys.clock()
      local imgs = image.load_many(paths)
      decode_time = decode_time + sys.clock() - d0
      for k, im in ipairs(imgs) do
        local e = set[first + k - 1]
        local res = sample.detection(assert(im), e.faces, {seed = first + k - 1})
        samples = samples + res.count
        res.images:free()
        im:free()
      end
    end
    local dt = sys.clock() - t0
    report{bench = "image", op = "sample_wider_train_12", size = count .. " images", threads = threads,
           ms_median = dt / count * 1e3, images_per_s = count / dt, samples_per_s = samples / dt,
           decode_share = decode_time / dt}
  end
end

return M

-- mtcnn.detector: the MTCNN cascade (docs/design.md, 'Detection').
--
--   local det = mtcnn.detector.new{min_face = 20}            -- the bundled model
--   local faces = det:detect(mtcnn.image.load("photo.jpg"))  -- or det:detect("photo.jpg")
--   for _, f in ipairs(faces) do print(f.score, table.concat(f.box, " ")) end
--   local batch, kept = det:crops("photo.jpg", {size = 160, margin = 32})  -- N x 3 x 160 x 160
--
-- A face is {box = {x1, y1, x2, y2}, score = p, landmarks = {{x, y} x 5}} in
-- pixels, 0-based with inclusive x2/y2 (the original's numbers minus 1);
-- landmarks are left eye, right eye, nose, left and right mouth corner.
--
-- Options (defaults: the original MATLAB release; docs/design.md, 'Defaults and presets'):
--   model          folder with pnet/rnet/onet and manifest.json, or the name of a bundled
--                  model, a folder of models/ ("original": the 2016 weights, the default)
--   preset         "original" (default), "seed" (the TensorFlow reproduction's values),
--                  "wider" (the paper's WIDER FACE settings); explicit options win
--   min_face       smallest face side in pixels (20)
--   factor         pyramid scale step (0.709)
--   thresholds     {pnet, rnet, onet} face-probability thresholds ({0.6, 0.7, 0.7}); PNet
--                  keeps scores >= its threshold, RNet and ONet scores > theirs
--   nms            {per_scale, across_scales, rnet, onet} ({0.5, 0.7, 0.7, 0.7})
--   nms_onet       "min" (default) or "union": the overlap used after ONet
--   resize         "area" (default) or "bilinear" (docs/design.md, 'Resizing')
--   flip_landmarks average ONet landmarks with a pass on mirrored crops (the MATLAB v1
--                  behaviour; false by default, as the golden reference)
--   batch          largest RNet/ONet batch per forward call (1024)
--   stages         how much of the cascade runs: 3 or "onet" (default, the whole cascade),
--                  2 or "rnet" (PNet + RNet), 1 or "pnet" (PNet alone); see below
--   device         "cpu" (default) or "cuda": where the nets run (they are moved there, those
--                  given in `nets` included). On cuda each pyramid level
--                  and each chunk of crops is uploaded, run by the nets moved to the GPU
--                  (module by module, evaluate mode's fused passes) and the outputs read
--                  back; the images, crops, boxes and NMS stay on the CPU.
-- Which faces are returned (mtcnn.faces.choose; the defaults return every face):
--   select         "all" (default, the cascade's order), "largest", "best" (highest score),
--                  "center" (nearest the image centre): the faces in that order, one of them
--                  unless max_faces says more
--   max_faces      at most this many ("all": the best scored)
--   min_score      drop faces scored below this
--   clip           cut boxes to the image (false: boxes may reach past its edges)
-- det.stats holds the last call's time (ms) and candidate count per stage that ran, and
-- image_ms: each image's own time (its PNet time, and its share of the RNet and ONet batches
-- it shared with the other images of the call, by its number of candidates).
--
-- Images: an mtcnn.Image, a path, a [3,H,W] tensor as img:to_tensor() gives it, RGB bytes
-- with a width and height (det:detect(bytes, w, h), or {rgb = bytes, width = w, height = h}
-- in a list); anything else raises naming what it got (mtcnn.faces.image_of).
--
-- A partial cascade (stages 1 or 2) returns the calibrated boxes of its last stage with
-- that stage's scores and no landmarks: for PNet, the windows left by the per-scale and
-- across-scale NMS, calibrated with PNet's offsets; for RNet, the windows left by RNet's
-- threshold and NMS, calibrated with RNet's offsets. Neither is squared or truncated (the
-- next stage, or hard-example mining, does that itself: docs/design.md, 'Hard examples').
-- A model folder needs only the nets of the stages that run.

local mtcnn = require "mtcnn"
local T = require "mtcnn.tensor"
local models = require "mtcnn.models"
local nn = require "mtcnn.nn"
local image = require "mtcnn.image"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"
local core = require "mtcnn.core"
local faces_mod = require "mtcnn.faces"
local cli = require "mtcnn.cli"

local detector = {}
detector.__index = detector

detector.PRESETS = {
  original = {min_face = 20, factor = 0.709, thresholds = {0.6, 0.7, 0.7},
              nms = {0.5, 0.7, 0.7, 0.7}, nms_onet = "min"},
  seed = {min_face = 20, factor = 0.79, thresholds = {0.6, 0.7, 0.7},
          nms = {0.5, 0.7, 0.6, 0.6}, nms_onet = "min"},
  wider = {min_face = 10, factor = 0.79, thresholds = {0.5, 0.5, 0.3},
           nms = {0.5, 0.7, 0.7, 0.7}, nms_onet = "min"},
}

-- The values the options may take (cli.check ranges). detect.lua's flags take the same, so a
-- script and a library call refuse the same values. The factor is bounded below 1 so that
-- the pyramid stays short (0.95 gives at most about 130 levels on the largest image the
-- pixel limit lets through; 0.999999 would give millions).
detector.RANGES = {min_face = "[1, inf)", factor = "(0, 0.95]", threshold = "[0, 1]",
                   nms = "[0, 1]", batch = "[1, inf)"}

local OPTIONS = {model = true, preset = true, min_face = true, factor = true, thresholds = true,
                 nms = true, nms_onet = true, resize = true, flip_landmarks = true, batch = true,
                 nets = true, stages = true, device = true, select = true, max_faces = true,
                 min_score = true, clip = true}

-- The nets of the cascade in order; stages = n runs the first n.
local ARCHS = {"pnet", "rnet", "onet"}
local STAGE_OF = {pnet = 1, rnet = 2, onet = 3}

--- The folder of the model that ships with the project.
function detector.default_model()
  return (mtcnn.home or ".") .. "/models/original"
end

--- The names of the models that ship with the project (folders of models/ holding a
--- manifest.json), sorted.
function detector.bundled_models()
  local root = (mtcnn.home or ".") .. "/models"
  local names = {}
  for _, name in ipairs(sys.listdir(root) or {}) do
    local st = sys.stat(root .. "/" .. name .. "/manifest.json")
    if st and st.type == "file" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

--- The folder of a model given as a folder or as the name of a bundled one ("original"):
--- a bare name (letters, digits, '_', '-') that is not a folder here names
--- models/NAME. nil, message when neither exists.
function detector.resolve_model(model)
  if type(model) ~= "string" or model == "" then
    return nil, ("model must be a folder or a bundled model's name, got %s"):format(tostring(model))
  end
  local st = sys.stat(model)
  if st and st.type == "directory" then return model end
  if model:match("^[%w_%-]+$") then
    local dir = (mtcnn.home or ".") .. "/models/" .. model
    st = sys.stat(dir)
    if st and st.type == "directory" then return dir end
    return nil, ("model %s: no such folder, nor a bundled model of that name (bundled: %s)"):format(
      model, table.concat(detector.bundled_models(), ", "))
  end
  return nil, ("model %s: no such folder"):format(model)
end

-- A model folder's manifest.json, checked to hold a "nets" table | nil, message.
local function read_manifest(dir)
  local manifest, err = json.read_file(dir .. "/manifest.json")
  if not manifest then return nil, ("model %s: %s"):format(dir, err) end
  if type(manifest.nets) ~= "table" then
    return nil, ("model %s: manifest.json has no \"nets\" table"):format(dir)
  end
  return manifest
end

-- The file name the manifest gives for arch: name | false (no such net) | nil, message.
local function net_name(dir, manifest, arch)
  local file = manifest.nets[arch]
  if file == nil then return false end
  if type(file) ~= "string" then
    return nil, ("model %s: manifest.json names no file for %s"):format(dir, arch)
  end
  return file
end

--- The path of one net of a model folder (or of a bundled model given by name):
--- path | nil, message (also when the model has no net for arch).
function detector.stage_file(model, arch)
  local dir, err = detector.resolve_model(model)
  if not dir then return nil, err end
  local manifest
  manifest, err = read_manifest(dir)
  if not manifest then return nil, err end
  local file
  file, err = net_name(dir, manifest, arch)
  if file == false then return nil, ("model %s holds no %s"):format(dir, arch) end
  if not file then return nil, err end
  return dir .. "/" .. file
end

--- Loads a model folder: {pnet, rnet, onet, manifest} | nil, message. Only the nets that
--- manifest.json names are loaded (a folder of a PNet alone has no rnet or onet); detector.new
--- checks that the stages it runs are there.
function detector.load_model(dir)
  local err
  dir, err = detector.resolve_model(dir)
  if not dir then return nil, err end
  local manifest
  manifest, err = read_manifest(dir)
  if not manifest then return nil, err end
  local nets = {manifest = manifest}
  for _, arch in ipairs(ARCHS) do
    local file
    file, err = net_name(dir, manifest, arch)
    if file == nil then return nil, err end
    if file then
      local net
      net, err = models.load(dir .. "/" .. file)
      if not net then return nil, ("model %s: %s"):format(dir, err) end
      if net.arch ~= arch then
        return nil, ("model %s: %s holds a %s, not a %s"):format(dir, file, tostring(net.arch), arch)
      end
      net:evaluate()
      nets[arch] = net
    end
  end
  if not nets.pnet and not nets.rnet and not nets.onet then
    return nil, ("model %s: manifest.json names none of pnet, rnet, onet"):format(dir)
  end
  return nets
end

-- stages as a number 1..3 (also given as the name of the last net) | nil.
local function stage_count(v)
  if v == nil then return 3 end
  if STAGE_OF[v] then return STAGE_OF[v] end
  local n = type(v) == "number" and math.tointeger(v)
  if n and n >= 1 and n <= 3 then return n end
  return nil
end

-- Raises "detector.new: NAME must lie in RANGE, got V" unless v is in range (level: the
-- caller of detector.new, seen from here).
local function check(name, v, range, integer, level)
  local bad = cli.check(v, range, integer)
  if bad then error(("detector.new: %s %s"):format(name, bad), level or 3) end
end

local function check_number_list(name, v, n, range)
  if type(v) ~= "table" or #v ~= n then
    local got = type(v) == "table" and ("%d item(s)"):format(#v) or tostring(v)
    error(("detector.new: %s must be a list of %d numbers, got %s"):format(name, n, got), 3)
  end
  for i = 1, n do check(("%s[%d]"):format(name, i), v[i], range, false, 4) end
end

--- A detector; errors on bad options, returns nil, message when the model cannot be loaded.
function detector.new(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTIONS[k] then error(("detector: unknown option '%s'"):format(tostring(k)), 2) end
  end
  local preset_name = opts.preset or "original"
  local preset = detector.PRESETS[preset_name]
  if not preset then
    local names = {}
    for k in pairs(detector.PRESETS) do names[#names + 1] = k end
    table.sort(names)
    error(("detector: unknown preset '%s' (%s)"):format(tostring(preset_name), table.concat(names, ", ")), 2)
  end
  local self = setmetatable({}, detector)
  for k, v in pairs(preset) do self[k] = v end
  for k, v in pairs(opts) do
    if k ~= "model" and k ~= "nets" and k ~= "preset" then self[k] = v end
  end
  self.stages = stage_count(opts.stages)
  if not self.stages then
    error("detector: stages must be 1, 2, 3 or \"pnet\", \"rnet\", \"onet\"", 2)
  end
  self.preset = preset_name
  self.resize = self.resize or "area"
  self.flip_landmarks = self.flip_landmarks or false
  self.batch = self.batch or 1024
  local R = detector.RANGES
  check("min_face", self.min_face, R.min_face)
  check("factor", self.factor, R.factor)
  check_number_list("thresholds", self.thresholds, 3, R.threshold)
  check_number_list("nms", self.nms, 4, R.nms)
  if self.resize ~= "area" and self.resize ~= "bilinear" then
    error("detector: resize must be \"area\" or \"bilinear\"", 2)
  end
  if self.nms_onet ~= "min" and self.nms_onet ~= "union" then
    error("detector: nms_onet must be \"min\" or \"union\"", 2)
  end
  check("batch", self.batch, R.batch, true)
  local ok, choice = pcall(faces_mod.check_options, self)
  if not ok then error("detector.new: " .. choice, 2) end
  for k, v in pairs(choice) do self[k] = v end

  local nets = opts.nets
  if not nets then
    local err
    self.model, err = detector.resolve_model(opts.model or detector.default_model())
    if not self.model then return nil, err end
    nets, err = detector.load_model(self.model)
    if not nets then return nil, err end
  end
  -- every net the stages run must be there; the rest may be absent
  for i = 1, self.stages do
    if not nets[ARCHS[i]] then
      local where = self.model and ("model " .. self.model .. " has") or "the nets given have"
      if i == 1 then return nil, ("%s no pnet: train it"):format(where) end
      return nil, ("%s no %s: train it, or use stages = %d"):format(where, ARCHS[i], i - 1)
    end
  end
  self.pnet, self.rnet, self.onet = nets.pnet, nets.rnet, nets.onet
  self.manifest = nets.manifest
  self.device = opts.device or "cpu"
  self.plans = {}
  if self.device == "cuda" then
    if not mtcnn.cuda.available() then
      return nil, "detector: device cuda: " .. tostring(select(2, mtcnn.cuda.device_info()))
    end
    -- the nets move to the GPU (nets given in opts.nets too: they are the detector's now)
    for i = 1, self.stages do
      local net = self[ARCHS[i]]
      local ok, err = pcall(net.to, net, "cuda")
      if not ok then return nil, ("detector: device cuda: %s"):format(tostring(err)) end
      net:evaluate()
    end
    self.device_inputs = {}
  elseif self.device ~= "cpu" then
    error("detector: device must be \"cpu\" or \"cuda\"", 2)
  else
    -- the nets compiled for runs driven from C (one part of the batch or one pyramid level
    -- per thread); nets the plans cannot take run module by module
    for i = 1, self.stages do
      local ok, plan = pcall(nn.plan, self[ARCHS[i]])
      if ok then self.plans[ARCHS[i]] = plan end
    end
  end
  -- how the model's outputs are decoded (manifest "conventions"; the original's by default)
  local conv = type(self.manifest) == "table" and self.manifest.conventions or {}
  self.landmark_offset = conv.landmark_offset or 1
  self.pnet_width_plus_one = conv.pnet_width_plus_one == true
  self.buffers, self.spare = {}, {}
  self.stats = {}
  return self
end

-- The pyramid of scales for an h x w image, as the original computes it; nil and a message
-- when its first level would exceed the image pixel limit (a min_face far below 12 on a large
-- image). The count of levels is known before the loop and bounded by the factor's range.
function detector:scales(h, w)
  local m = 12 / self.min_face
  local minl = math.min(h, w) * m
  local limit = image.max_pixels()
  if math.ceil(h * m) * math.ceil(w * m) > limit then
    return nil, ("detect: a %dx%d image at min_face %g needs a first pyramid level of %dx%d, " ..
      "more than the pixel limit (%d): raise min_face"):format(w, h, self.min_face,
      math.ceil(w * m), math.ceil(h * m), limit)
  end
  local out, k = {}, 0
  while minl >= 12 do
    out[#out + 1] = m * self.factor ^ k
    minl = minl * self.factor
    k = k + 1
  end
  return out
end

-- A reusable input tensor of the given shape. The buffers of the previous call are kept
-- (self.spare), so repeated detection on same-sized images allocates nothing new, and
-- those it did not use are dropped: a run over images of many sizes holds at most two
-- calls' worth.
function detector:buffer(key, ...)
  local shape = {...}
  local name = key .. ":" .. table.concat(shape, "x")
  local b = self.buffers[name] or self.spare[name] or T.empty(shape)
  self.buffers[name] = b
  return b
end

-- net:forward(x) for a CPU tensor x on the detector's device: on cuda x goes up through a
-- device buffer kept per shape (as the CPU buffers) and the outputs come back to the CPU.
function detector:run_net(arch, net, x)
  if self.device ~= "cuda" then return net:forward(x) end
  local key = arch .. ":" .. table.concat(x:size(), "x")
  local xg = self.device_inputs[key]
  if not xg then
    xg = T.empty(x:size()):cuda()
    self.device_inputs[key] = xg
  end
  local out = net:forward(xg:copy_(x))
  return {cls = out.cls:cpu(), box = out.box:cpu(), landmarks = out.landmarks and out.landmarks:cpu()}
end

-- Crops the windows of c from ims at size x size and runs net (by its plan when it has one)
-- over them, self.batch windows at a time: however many windows a crowded picture leaves, at
-- most one batch of crops is in memory. With flip (ONet's flip_landmarks) each batch also runs
-- mirrored and its landmarks are averaged with the plain pass's. Returns the outputs {cls
-- [n,2], box [n,4], landmarks [n,10] or nil} as whole tensors.
function detector:crop_forward(arch, c, ims, size, flip)
  local net = self.plans[arch] or self[arch]
  local n = #c
  local x = self:buffer(arch, math.min(n, self.batch), 3, size, size)
  local cls, box, lm = T.empty(n, 2), T.empty(n, 4), nil
  for start = 1, n, self.batch do
    local len = math.min(self.batch, n - start + 1)
    local xs = len == x:size(1) and x or x:narrow(1, 1, len)
    c:crop(ims, size, self.resize, xs, start, len)
    -- the net's outputs are reused buffers: copied out before the next pass
    local out = self:run_net(arch, net, xs)
    cls:narrow(1, start, len):copy_(out.cls)
    box:narrow(1, start, len):copy_(out.box)
    if out.landmarks then
      lm = lm or T.empty(n, 10)
      local pts = out.landmarks
      if flip then
        pts = pts:clone()
        pts = core.detect.mirror_average(pts, self:run_net(arch, net, core.detect.flip_width(xs)).landmarks)
      end
      lm:narrow(1, start, len):copy_(pts)
    end
  end
  return {cls = cls, box = box, landmarks = lm}
end

-- Stage 1 for one image: PNet over the pyramid, NMS per scale, appended to c. With a plan
-- the levels run at once, one per thread at a time (largest first).
function detector:stage1(c, img, index)
  local h, w = img.height, img.width
  local scales, err = self:scales(h, w)
  if not scales then error(err, 0) end
  local levels = {}
  for i, scale in ipairs(scales) do
    local hs, ws = math.ceil(h * scale), math.ceil(w * scale)
    levels[i] = self:buffer("pnet", 1, 3, hs, ws)
    img:resize_to_tensor(ws, hs, {method = self.resize, out = levels[i]})
  end
  local outs = {}
  if self.plans.pnet and #levels > 0 and #levels <= 64 then -- (up to 64 inputs a run)
    outs = self.plans.pnet:forward_many(levels)
  end
  for i, scale in ipairs(scales) do
    local out = outs[i] or self:run_net("pnet", self.pnet, levels[i])
    local before = #c
    if c:add_pnet(out.cls, out.box, scale, self.thresholds[1], index) > 0 then
      c:nms(self.nms[1], "union", before + 1)
    end
  end
end

-- The faces of c per image (landmarks only when ONet ran), chosen as the options say.
function detector:per_image_faces(c, ims, landmarks)
  local per_image = {}
  for i = 1, #ims do per_image[i] = {} end
  for _, f in ipairs(c:faces(nil, landmarks)) do
    local list = per_image[f.image]
    f.image = nil
    list[#list + 1] = f
  end
  for i, img in ipairs(ims) do
    per_image[i] = faces_mod.choose(per_image[i], self, img.width, img.height)
  end
  return per_image
end

-- stats.image_ms: each image's time, the stages' times shared out by weights (per stage, one
-- weight per image: its own PNet time, its RNet and ONet candidates).
local function share_time(stats, shares, n)
  local ms = {}
  for i = 1, n do ms[i] = 0 end
  for _, s in ipairs(shares) do
    local total = 0
    for i = 1, n do total = total + s.weights[i] end
    for i = 1, n do ms[i] = ms[i] + s.ms * (total > 0 and s.weights[i] / total or 1 / n) end
  end
  stats.image_ms = ms
end

-- The inputs as images (see faces.image_of), and those made here (freed after the call).
local function images_of(list, what)
  local ims, made = {}, {}
  for i, v in ipairs(list) do
    local img, new = faces_mod.image_of(v, nil, nil, ("%s: item %d"):format(what, i))
    ims[i] = img
    if new then made[#made + 1] = img end
  end
  return ims, made
end

--- Detects the faces of several images at once (RNet and ONet see the crops
--- of all of them in shared batches). Returns one list of faces per image.
function detector:detect_batch(images)
  if type(images) ~= "table" or faces_mod.is_single(images) then
    error("detector:detect_batch: expected a list of images, got " .. faces_mod.describe(images), 2)
  end
  local ims, made = images_of(images, "detector:detect_batch")
  local result = self:run(ims)
  for _, img in ipairs(made) do img:free() end
  return result
end

-- The cascade over a list of images.
function detector:run(ims)
  local stages = self.stages
  local stats = {pnet = {}, rnet = stages >= 2 and {} or nil, onet = stages >= 3 and {} or nil}
  self.stats = stats
  self.spare, self.buffers = self.buffers, {}
  local clock = sys.clock
  local c = core.detect.candidates()
  local own = {}

  local t0 = clock()
  for i, img in ipairs(ims) do
    local ti = clock()
    self:stage1(c, img, i)
    own[i] = clock() - ti
  end
  stats.pnet.windows = #c
  c:nms(self.nms[2], "union")
  c:calibrate(self.pnet_width_plus_one)
  self:drop_invalid(c, ims)
  if stages == 1 then
    stats.pnet.kept = #c
    stats.pnet.ms = (clock() - t0) * 1e3
    stats.ms = stats.pnet.ms
    share_time(stats, {{ms = stats.pnet.ms, weights = own}}, #ims)
    return self:per_image_faces(c, ims, false)
  end
  c:square()
  c:fix()
  stats.pnet.kept = #c
  local t1 = clock()
  stats.pnet.ms = (t1 - t0) * 1e3
  local shares = {{ms = stats.pnet.ms, weights = own}}
  shares[2] = {weights = #ims > 1 and c:counts(#ims) or {1}}

  if #c > 0 then
    local out = self:crop_forward("rnet", c, ims, 24)
    c:set_outputs(out.cls, out.box)
    c:filter(self.thresholds[2])
    c:nms(self.nms[3], "union")
    c:calibrate(true)
    self:drop_invalid(c, ims)
    if stages >= 3 then c:square() end
  end
  stats.rnet.windows = stats.pnet.kept
  stats.rnet.kept = #c
  local t2 = clock()
  stats.rnet.ms = (t2 - t1) * 1e3
  shares[2].ms = stats.rnet.ms
  if stages == 2 then
    stats.ms = (t2 - t0) * 1e3
    share_time(stats, shares, #ims)
    return self:per_image_faces(c, ims, false)
  end
  shares[3] = {weights = #ims > 1 and c:counts(#ims) or {1}}

  if #c > 0 then
    c:fix()
    local out = self:crop_forward("onet", c, ims, 48, self.flip_landmarks)
    local cls, reg, pts = out.cls, out.box, out.landmarks
    c:set_outputs(cls, reg, pts)
    c:filter(self.thresholds[3])
    c:decode_landmarks(self.landmark_offset)
    c:calibrate(true)
    self:drop_invalid(c, ims)
    c:nms(self.nms[4], self.nms_onet)
  end
  stats.onet.windows = stats.rnet.kept
  stats.onet.kept = #c
  local t3 = clock()
  stats.onet.ms = (t3 - t2) * 1e3
  stats.ms = (t3 - t0) * 1e3
  shares[3].ms = stats.onet.ms
  share_time(stats, shares, #ims)
  return self:per_image_faces(c, ims, true)
end

--- det:detect(img [, width, height]) -> the faces of one image: an mtcnn.Image, a path, a
--- [3,H,W] tensor as img:to_tensor() gives it, or RGB bytes with their width and height.
function detector:detect(img, width, height)
  local im, made = faces_mod.image_of(img, width, height, "detector:detect")
  local result = self:run({im})[1]
  if made then im:free() end
  return result
end

--- det:crops(img [, opts]) -> batch, faces: the faces of img (any input det:detect takes)
--- cropped into one N x 3 x S x S tensor, row k the crop of faces[k] (N may be 0). opts:
--- size (160), margin (0), mode ("box" or "aligned"), square, normalize: see mtcnn.faces.crop.
function detector:crops(img, opts)
  local im, made = faces_mod.image_of(img, nil, nil, "detector:crops")
  local found = self:run({im})[1]
  local ok, batch = pcall(faces_mod.crop, im, found, opts)
  if made then im:free() end
  if not ok then error(batch, 2) end
  return batch, found
end

-- Removes the windows a damaged model made (numbers that are not finite, boxes far outside
-- the image), counts them in stats.dropped and says so on stderr once per detector.
function detector:drop_invalid(c, ims)
  local n = c:drop_invalid(ims)
  if n > 0 then
    self.stats.dropped = (self.stats.dropped or 0) + n
    if not self.warned then
      self.warned = true
      io.stderr:write(("detector: dropped %d candidate window(s) with numbers that are not " ..
        "finite or boxes far outside the image: is the model %s damaged?\n"):format(n,
        tostring(self.model or "given")))
    end
  end
end

--- A copy of img with each face's box (green), score and landmarks (red) drawn.
function detector.draw(img, faces, opts)
  opts = opts or {}
  local pic = img:clone()
  local side = math.min(img.width, img.height)
  local thick = opts.thickness or math.max(2, side // 250)
  local scale = opts.text_scale or math.max(1, side // 256)
  local function r(v) return math.floor(v + 0.5) end
  for _, f in ipairs(faces) do
    local x1, y1, x2, y2 = r(f.box[1]), r(f.box[2]), r(f.box[3]), r(f.box[4])
    pic:draw_rect(x1, y1, x2, y2, {color = opts.color or "green", thickness = thick})
    for _, p in ipairs(f.landmarks or {}) do
      pic:draw_point(r(p[1]), r(p[2]), {color = opts.point_color or "red", radius = thick + 1})
    end
    local label = ("%.3f"):format(f.score)
    local _, th = image.text_size(label, scale)
    local ty = y1 - th - 2
    if ty < 0 then ty = y1 + 2 end
    pic:draw_text(x1, ty, label, {color = "white", scale = scale, background = opts.color or "green"})
  end
  return pic
end

--- det:model_info() -> {path, name, checksum, files}: the model's folder, its manifest's name,
--- and CRC-32C checksums ("crc32c:0a1b2c3d") of each file the manifest names and of all of
--- them with the manifest, in order (what a report records to say which model it used).
--- Without a folder (nets given directly) only {name = "(nets given)"}.
function detector:model_info()
  if self.model_checksums then return self.model_checksums end
  local info = {name = type(self.manifest) == "table" and self.manifest.name or "(nets given)"}
  if self.model then
    info.path = self.model
    info.files = {}
    local function crc_of(path, crc)
      local f = io.open(path, "rb")
      if not f then return nil end
      local data = f:read("a")
      f:close()
      return sys.crc32c(data), sys.crc32c(data, crc)
    end
    local total = 0
    local names = {"manifest.json"}
    for _, arch in ipairs(ARCHS) do
      local file = type(self.manifest) == "table" and self.manifest.nets[arch]
      if file then names[#names + 1] = file end
    end
    for _, file in ipairs(names) do
      local own, all = crc_of(self.model .. "/" .. file, total)
      if own then
        info.files[file] = ("crc32c:%08x"):format(own)
        total = all
      end
    end
    info.checksum = ("crc32c:%08x"):format(total)
  end
  self.model_checksums = info
  return info
end

--- The settings in effect, for reports.
function detector:settings()
  return {preset = self.preset, min_face = self.min_face, factor = self.factor,
          thresholds = self.thresholds, nms = self.nms, nms_onet = self.nms_onet,
          resize = self.resize, flip_landmarks = self.flip_landmarks, model = self.model,
          stages = self.stages, device = self.device, batch = self.batch, select = self.select,
          max_faces = self.max_faces, min_score = self.min_score, clip = self.clip}
end

return detector

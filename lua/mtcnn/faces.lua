-- mtcnn.faces: what is done with a detector's faces: the images it accepts, choosing among the
-- faces (the largest, the best, the one nearest the centre, a score floor, boxes clipped to the
-- image), face crops as one batch tensor, and the forms of a face for JSON.
--
--   local faces = require "mtcnn.faces"
--   local img = faces.image_of(input)                       -- an image, a path, a tensor, bytes
--   local kept = faces.choose(list, {select = "largest"}, img.width, img.height)
--   local batch = faces.crop(img, kept, {size = 160, margin = 32})  -- N x 3 x 160 x 160
--
-- A face is {box = {x1, y1, x2, y2}, score = p [, landmarks = {{x, y} x 5}]} in 0-based pixels
-- with inclusive x2/y2, as mtcnn.detector returns it.

local T = require "mtcnn.tensor"
local image = require "mtcnn.image"

local faces = {}

--- The names of the five landmarks, in the order of a face's landmarks list.
faces.LANDMARK_NAMES = {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}

faces.SELECT = {"all", "largest", "best", "center"}
local SELECT = {all = true, largest = true, best = true, center = true}

local INPUTS = "an mtcnn.Image, an image path, a [3,H,W] tensor (img:to_tensor()) " ..
  "or RGB bytes with a width and height"

--- What v is, for error messages: its type, a tensor's shape, a string's length.
function faces.describe(v)
  if T.is_tensor(v) then return ("a %s tensor"):format(table.concat(v:size(), "x")) end
  if type(v) == "string" then return ("a string of %d bytes"):format(#v) end
  if type(v) == "table" then return "a table without rgb, width and height" end
  return tostring(v) == "nil" and "nil" or ("a " .. type(v))
end

local function is_size(v) return math.type(v) == "integer" and v > 0 end

--- faces.image_of(v [, width, height [, what]]) -> image, made (true when a new image was made
--- from a tensor or bytes, which the caller may free), or raises naming what it got. v is an
--- mtcnn.Image, a path (loaded), a [3,H,W] or [1,3,H,W] tensor normalised as img:to_tensor()
--- gives it, RGB bytes (a string of width * height * 3 bytes, rows top to bottom) with width and
--- height, or a table {rgb = bytes, width = W, height = H}.
function faces.image_of(v, width, height, what)
  what = what or "detect"
  if image.is_image(v) then return v, false end
  if type(v) == "table" and not T.is_tensor(v) and v.rgb ~= nil then
    v, width, height = v.rgb, v.width, v.height
    if type(v) ~= "string" then
      error(("%s: rgb must be a string of bytes, got a %s"):format(what, type(v)), 3)
    end
  end
  if type(v) == "string" and (width ~= nil or height ~= nil) then
    if not is_size(width) or not is_size(height) then
      error(("%s: RGB bytes need a positive integer width and height, got %s and %s")
        :format(what, tostring(width), tostring(height)), 3)
    end
    if #v ~= width * height * 3 then
      error(("%s: %dx%d RGB needs %d bytes, got %d"):format(what, width, height,
        width * height * 3, #v), 3)
    end
    return image.from_string(width, height, v), true
  end
  if type(v) == "string" then
    local img, err = image.load(v)
    if not img then error(("%s: %s"):format(what, err), 3) end
    return img, true
  end
  if T.is_tensor(v) then
    local s = v:size()
    if not ((#s == 3 and s[1] == 3) or (#s == 4 and s[1] == 1 and s[2] == 3)) then
      error(("%s: a tensor must be [3,H,W] or [1,3,H,W] as img:to_tensor() gives it, got %s")
        :format(what, table.concat(s, "x")), 3)
    end
    return image.from_tensor(v:is_cuda() and v:cpu() or v), true
  end
  error(("%s: expected %s; got %s"):format(what, INPUTS, faces.describe(v)), 3)
end

--- True when v is one image input (not a list of them).
function faces.is_single(v)
  return image.is_image(v) or T.is_tensor(v) or type(v) == "string" or
    (type(v) == "table" and v.rgb ~= nil)
end

local function area(f)
  return math.max(0, f.box[3] - f.box[1] + 1) * math.max(0, f.box[4] - f.box[2] + 1)
end

--- faces.clip(face, width, height) cuts the face's box to the image (in place; returns it).
function faces.clip(f, width, height)
  local b = f.box
  b[1], b[2] = math.max(0, b[1]), math.max(0, b[2])
  b[3], b[4] = math.min(width - 1, b[3]), math.min(height - 1, b[4])
  return f
end

--- Checks the selection options (select, max_faces, min_score, clip) and returns them with
--- their defaults, or raises at the given level naming the bad one.
function faces.check_options(o, level)
  level = (level or 1) + 1
  local sel = o.select == nil and "all" or o.select
  if not SELECT[sel] then
    error(("select must be one of %s, got %s"):format(table.concat(faces.SELECT, ", "),
      tostring(sel)), level)
  end
  if o.max_faces ~= nil and (math.type(o.max_faces) ~= "integer" or o.max_faces < 1) then
    error("max_faces must be a positive integer", level)
  end
  if o.min_score ~= nil and type(o.min_score) ~= "number" then
    error("min_score must be a number", level)
  end
  if o.clip ~= nil and type(o.clip) ~= "boolean" then error("clip must be true or false", level) end
  return {select = sel, max_faces = o.max_faces, min_score = o.min_score, clip = o.clip or false}
end

--- faces.choose(list, opts, width, height) -> the faces kept, in order (a new list; the faces
--- themselves are clipped in place with opts.clip). opts (checked by faces.check_options):
---   min_score  drop faces scored below it
---   clip       cut boxes to the image
---   select     "all" (default: the cascade's order), "best" (highest score first), "largest"
---              (largest box first), "center" (box centre nearest the image centre first)
---   max_faces  at most this many: the first in select's order ("all": the best scored,
---              in score order); default: every face for "all", one for the others
function faces.choose(list, opts, width, height)
  local kept = {}
  for _, f in ipairs(list) do
    if not opts.min_score or f.score >= opts.min_score then
      if opts.clip then faces.clip(f, width, height) end
      kept[#kept + 1] = f
    end
  end
  local sel, limit = opts.select or "all", opts.max_faces
  if sel ~= "all" then limit = limit or 1 end
  if sel == "all" and (not limit or #kept <= limit) then return kept end
  local key
  if sel == "largest" then
    key = function(f) return -area(f) end
  elseif sel == "center" then
    local cx, cy = (width - 1) / 2, (height - 1) / 2
    key = function(f)
      local x, y = (f.box[1] + f.box[3]) / 2 - cx, (f.box[2] + f.box[4]) / 2 - cy
      return x * x + y * y
    end
  else -- "best", and "all" cut to its best
    key = function(f) return -f.score end
  end
  -- ties keep the cascade's order
  local order = {}
  for i, f in ipairs(kept) do order[i] = {f = f, k = key(f), i = i} end
  table.sort(order, function(a, b)
    if a.k ~= b.k then return a.k < b.k end
    return a.i < b.i
  end)
  local out = {}
  for i = 1, math.min(limit, #order) do out[i] = order[i].f end
  return out
end

-- The pixel box of a "box" crop: the face's box grown by margin output pixels (as
-- facenet-pytorch counts them: margin * side / (size - margin) image pixels in all, half on
-- each side), optionally made square about its centre first.
local function crop_box(f, size, margin, square)
  local x1, y1, x2, y2 = f.box[1], f.box[2], f.box[3], f.box[4]
  if square then
    local cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    local half = math.max(x2 - x1, y2 - y1) / 2
    x1, x2, y1, y2 = cx - half, cx + half, cy - half, cy + half
  end
  local mx = margin * (x2 - x1) / (size - margin) / 2
  local my = margin * (y2 - y1) / (size - margin) / 2
  local function r(v) return math.floor(v + 0.5) end
  return {r(x1 - mx), r(y1 - my), r(x2 + mx), r(y2 + my)}
end

--- faces.crop(img, list, opts) -> N x 3 x S x S tensor of the faces' crops, one row per face in
--- order (N may be 0). opts:
---   size       S, the crops' side (160)
---   margin     output pixels around the face (0): "box" grows the box by margin * side /
---              (size - margin) (facenet-pytorch's margin); "aligned" maps the five-point
---              template onto the inner size - margin pixels
---   mode       "box" (default: the box, resized to S x S with area averaging; outside the
---              image is black) or "aligned" (the five-point similarity warp of
---              img:align_face; needs landmarks)
---   square     "box": make the box square about its centre before the margin (false)
---   normalize  (x - 127.5) / 128 as img:to_tensor() (true), or pixel values 0..255 (false)
function faces.crop(img, list, opts)
  opts = opts or {}
  local size, margin = opts.size or 160, opts.margin or 0
  local mode = opts.mode or "box"
  if math.type(size) ~= "integer" or size < 1 then error("crop: size must be a positive integer", 2) end
  if type(margin) ~= "number" or margin < 0 or margin >= size then
    error(("crop: margin must lie in [0, size) = [0, %d)"):format(size), 2)
  end
  if mode ~= "box" and mode ~= "aligned" then error("crop: mode must be \"box\" or \"aligned\"", 2) end
  local normalize = opts.normalize ~= false
  local n = #list
  local out = T.empty(n, 3, size, size)
  if n == 0 then return out end
  if mode == "box" then
    local boxes = {}
    for i, f in ipairs(list) do boxes[i] = crop_box(f, size, margin, opts.square) end
    return img:crop_resize(boxes, size, {out = out, normalize = normalize})
  end
  -- the template of the inner size - margin pixels, moved to the middle of the crop
  local inner = size - math.floor(margin + 0.5)
  local shift = (size - inner) / 2
  local template = image.alignment_template(inner)
  for _, p in ipairs(template) do p[1], p[2] = p[1] + shift, p[2] + shift end
  for i, f in ipairs(list) do
    if not f.landmarks then
      error(("crop: face %d has no landmarks (aligned crops need the whole cascade)"):format(i), 2)
    end
    local face = img:warp_affine(image.similarity(f.landmarks, template), size, size)
    face:to_tensor({out = out:select(1, i), normalize = normalize})
    face:free()
  end
  return out
end

--- The landmarks of a face by name: {left_eye = {x, y}, right_eye, nose, mouth_left,
--- mouth_right} (nil without landmarks).
function faces.named_landmarks(f)
  if not f.landmarks then return nil end
  local out = {}
  for k, name in ipairs(faces.LANDMARK_NAMES) do out[name] = f.landmarks[k] end
  return out
end

--- A box {x1, y1, x2, y2} (inclusive) as {x, y, width, height}.
function faces.xywh(b)
  return {b[1], b[2], b[3] - b[1] + 1, b[4] - b[2] + 1}
end

return faces

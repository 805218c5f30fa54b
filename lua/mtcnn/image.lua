-- mtcnn.image: 8-bit RGB images (mtcnn.Image), JPEG/PNG I/O, resizing into
-- normalised tensors, crops, warps, face alignment and drawing.
--
--   local image = require "mtcnn.image"
--   local img = assert(image.load("photo.jpg"))     -- nil, message on a bad file
--   print(img.width, img.height, img:get(0, 0))       -- 0-based pixel coordinates
--   local x = img:resize_to_tensor(320, 240)           -- [1, 3, 240, 320], (v - 127.5) / 128, area
--   local crops = img:crop_resize(boxes, 24)           -- [N, 3, 24, 24] from inclusive boxes
--   img:draw_rect(10, 10, 50, 60, {color = "red"}):save("out.png")
--
-- The C functions are in lua/bind/lmt_image.c (documented there and in
-- docs/images.md); this file adds pictures made of several images.

local core = require "mtcnn.core"

local image = core.image
local methods = image.metatable.methods

--- image.is_image(v) -> true when v is an mtcnn.Image
function image.is_image(v)
  return getmetatable(v) == image.metatable
end

--- img:draw_box(box [, opts]) draws {x1, y1, x2, y2[, score]} (inclusive) with
--- an optional label (opts.label, or the score when opts.show_score).
function methods.draw_box(img, box, opts)
  opts = opts or {}
  img:draw_rect(box[1], box[2], box[3], box[4], opts)
  local label = opts.label
  if label == nil and opts.show_score and box[5] then label = ("%.2f"):format(box[5]) end
  if label then
    local scale = opts.text_scale or 1
    local _, th = image.text_size(label, scale)
    local y = box[2] - th - 2 * scale - (opts.thickness or 2)
    if y < scale then y = box[2] + (opts.thickness or 2) + scale end
    img:draw_text(box[1] + scale, y, label, {
      color = opts.text_color or "black", scale = scale, background = opts.color or {0, 255, 0},
    })
  end
  return img
end

--- img:draw_landmarks(points [, opts]) marks five points: a list of {x, y}
--- pairs or 10 planar numbers (x1..x5, y1..y5).
function methods.draw_landmarks(img, points, opts)
  opts = opts or {}
  local radius = opts.radius or 2
  if type(points[1]) == "table" then
    for _, p in ipairs(points) do img:draw_point(p[1], p[2], {color = opts.color, radius = radius}) end
  else
    local n = #points // 2
    for i = 1, n do img:draw_point(points[i], points[n + i], {color = opts.color, radius = radius}) end
  end
  return img
end

--- image.grid(images [, opts]) -> one picture of the images in a grid (a
--- contact sheet). opts: cols (default: about square), pad (2), background
--- (colour, default dark grey), labels (list of strings drawn under each
--- tile), scale (integer upscaling of small tiles, default 1).
function image.grid(images, opts)
  opts = opts or {}
  local n = #images
  assert(n > 0, "grid: no images")
  local cols = opts.cols or math.ceil(math.sqrt(n))
  local rows = math.ceil(n / cols)
  local pad = opts.pad or 2
  local scale = opts.scale or 1
  local tw, th = 0, 0
  for _, im in ipairs(images) do
    tw = math.max(tw, im.width * scale)
    th = math.max(th, im.height * scale)
  end
  local label_h = 0
  if opts.labels then label_h = select(2, image.text_size("X", 1)) + 4 end
  local sheet = image.new(cols * (tw + pad) + pad, rows * (th + label_h + pad) + pad,
                          opts.background or {40, 40, 40})
  for i, im in ipairs(images) do
    local c, r = (i - 1) % cols, (i - 1) // cols
    local x, y = pad + c * (tw + pad), pad + r * (th + label_h + pad)
    local tile = im
    if scale ~= 1 then tile = im:resize(im.width * scale, im.height * scale, "bilinear") end
    sheet:paste(tile, x, y)
    if opts.labels and opts.labels[i] then
      sheet:draw_text(x, y + th + 2, tostring(opts.labels[i]), {color = opts.text_color or "white"})
    end
  end
  return sheet
end

--- image.split_strip(strip, size) -> list of size x size images (a sample
--- strip of mtcnn.sample holds its samples as consecutive square blocks).
function image.split_strip(strip, size)
  local out = {}
  for k = 0, strip.height // size - 1 do
    out[#out + 1] = strip:crop(0, k * size, size - 1, (k + 1) * size - 1)
  end
  return out
end

return image

-- mtcnn.eval.stage: how good one stage of the cascade is on its own: the recall of the
-- annotated faces at the stage's output and how many candidates it passes on (what the next
-- stage, or hard-example mining, has to deal with).
--
--   local stage = require "mtcnn.eval.stage"
--   local det = mtcnn.detector.new{stages = 1}
--   local entries = data.read_wider("wider_face_val_bbx_gt.txt", {images = "WIDER_val/images"})
--   local r = stage.evaluate(det, entries, {iou = 0.5, min_side = 20})
--   print(r.recall, r.candidates_per_image, r.ms_per_image)
--
-- A face counts when its side, max(w, h) with w = x2 - x1 + 1 (the rule sample generation
-- uses to keep a face, docs/design.md 'Sample generation'), is at least min_side; it is recalled when some output box
-- overlaps it with IoU >= iou (areas with +1, as mtcnn.box). Boxes need not be matched one to
-- one: the question is whether the stage kept a window on the face, not whether it is the
-- final detection.

local T = require "mtcnn.tensor"
local box = require "mtcnn.box"
local image = require "mtcnn.image"
local sys = require "mtcnn.sys"

local stage = {}

stage.DEFAULTS = {iou = 0.5, min_side = 20}

local function side(f)
  return math.max(f[3] - f[1] + 1, f[4] - f[2] + 1)
end

--- stage.recall(faces, boxes [, {iou, min_side}]) -> recalled, counted
--- faces: ground-truth boxes {x1, y1, x2, y2, ...}; boxes: the stage's output, either
--- detector faces ({box = {...}}) or rows {x1, y1, x2, y2}.
function stage.recall(faces, boxes, opts)
  opts = opts or {}
  local iou = opts.iou or stage.DEFAULTS.iou
  local min_side = opts.min_side or stage.DEFAULTS.min_side
  local rows = {}
  for i, b in ipairs(boxes) do
    local r = b.box or b
    rows[i] = {r[1], r[2], r[3], r[4]}
  end
  local cand = #rows > 0 and T.tensor(rows) or nil
  -- The overlaps come back as float32 from the tensor form: those within rounding of the bar
  -- are recomputed in double from the table form, so that the bar is exact.
  local function found(g)
    local o = box.iou(g, cand)
    local best = o:max()
    if best < iou - 1e-6 or best >= iou + 1e-6 then return best >= iou end
    local t = o:to_table()
    for k, v in ipairs(t) do
      if v >= iou - 1e-6 and box.iou(g, {rows[k]})[1] >= iou then return true end
    end
    return false
  end
  local counted, recalled = 0, 0
  for _, f in ipairs(faces) do
    if side(f) >= min_side then
      counted = counted + 1
      if cand and found({f[1], f[2], f[3], f[4]}) then recalled = recalled + 1 end
    end
  end
  if cand then cand:free() end
  return recalled, counted
end

local function mean(sum, n) return n > 0 and sum / n or 0 end

--- stage.evaluate(det, entries [, opts]) -> result
--- Runs det (a detector, usually with stages = 1 or 2) on every entry {path, name, faces}
--- (as mtcnn.data.read_wider gives them), one image at a time. opts: iou, min_side,
--- progress (function(done, total, r) after each image, r holding the
--- running faces and recalled counts), per_image (function(entry, faces,
--- recalled, counted, ms)). result: images, unreadable (and the first few messages in
--- errors), faces (counted), recalled, recall, candidates, candidates_per_image,
--- ms_per_image (detection only: det.stats.ms), decode_ms_per_image, and per stage that
--- ran the mean windows in and kept per image and the mean ms.
function stage.evaluate(det, entries, opts)
  opts = opts or {}
  local r = {images = 0, unreadable = 0, errors = {}, faces = 0, recalled = 0, candidates = 0,
             ms = 0, decode_ms = 0, stages = {}}
  local names = {"pnet", "rnet", "onet"}
  for i = 1, det.stages do r.stages[names[i]] = {windows = 0, kept = 0, ms = 0} end
  for done, e in ipairs(entries) do
    local t0 = sys.clock()
    local img, err = image.load(e.path)
    local t1 = sys.clock()
    if not img then
      r.unreadable = r.unreadable + 1
      if #r.errors < 5 then r.errors[#r.errors + 1] = tostring(err) end
    else
      local faces = det:detect(img)
      img:free()
      local recalled, counted = stage.recall(e.faces, faces, opts)
      r.images = r.images + 1
      r.decode_ms = r.decode_ms + (t1 - t0) * 1e3
      r.ms = r.ms + det.stats.ms
      r.faces, r.recalled = r.faces + counted, r.recalled + recalled
      r.candidates = r.candidates + #faces
      for name, s in pairs(r.stages) do
        local st = det.stats[name]
        s.windows, s.kept, s.ms = s.windows + st.windows, s.kept + st.kept, s.ms + st.ms
      end
      if opts.per_image then opts.per_image(e, faces, recalled, counted, det.stats.ms) end
    end
    if opts.progress then opts.progress(done, #entries, r) end
  end
  r.recall = mean(r.recalled, r.faces)
  r.candidates_per_image = mean(r.candidates, r.images)
  r.ms_per_image = mean(r.ms, r.images)
  r.decode_ms_per_image = mean(r.decode_ms, r.images)
  for _, s in pairs(r.stages) do
    s.windows, s.kept, s.ms = mean(s.windows, r.images), mean(s.kept, r.images), mean(s.ms, r.images)
  end
  r.ms, r.decode_ms = nil, nil
  return r
end

return stage

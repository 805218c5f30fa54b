-- mtcnn.eval.wider: the WIDER FACE protocol (easy / medium / hard AP), as the
-- official MATLAB eval_tools compute it (wider_eval.m, read_pred.m,
-- norm_score.m, evaluation.m, boxoverlap.m, VOCap); docs/design.md, 'WIDER FACE'.
--
--   local gt = assert(wider.load_gt(dir))        -- the official .mat ground truth
--   local result = wider.evaluate(gt, preds, opts)
--   result.settings.easy.ap, .medium.ap, .hard.ap
--
-- preds maps an image key "EVENT/NAME" (no extension) to its boxes
-- {{x, y, w, h, score}, ...} in any order; wider.predictions_from_jsonl,
-- wider.predictions_from_dir build it from our JSON Lines or a submission
-- folder. opts:
--   subset = "predicted" (default: the images that have an entry in preds,
--            an empty one included) | "all" (every ground-truth image; a
--            missing one has no detections, as in the official tool)
--   images = set of keys (overrides subset: exactly these images)
--   iou    = "official" (default: MATLAB's arithmetic in the ground truth's
--            class, int32 for the official files) | "exact" (double precision)
--
-- What the official tool does, step by step (and so do we):
--   * per image, predictions are sorted by descending score (stable);
--   * scores are normalised to [0, 1] with the minimum and maximum over all
--     evaluated predictions, in single precision (norm_score.m keeps them as
--     MATLAB singles); if every score is equal the official tool divides 0 by
--     0 and drops everything: we give every prediction the score 1 instead
--     (result.warnings says so);
--   * each prediction in turn takes the face it overlaps most over all faces
--     (boxoverlap with the +1 convention; with int32 ground truth the overlap
--     is rounded, so the first face with IoU >= 0.5 wins); at IoU >= 0.5 a
--     face outside the setting drops the prediction, a counted face not yet
--     recalled becomes recalled, otherwise the prediction stays a proposal;
--   * images without faces or without predictions add nothing but their
--     counted faces;
--   * for t = 1..1000, threshold 1 - t/1000: proposals and recalled faces of
--     the predictions with normalised score >= threshold, summed over images;
--     precision = recalled / proposals, recall = recalled / counted faces;
--   * AP is VOCap: precision made non-increasing from the right (NaN, from
--     0/0, is skipped as MATLAB's max skips it), summed over recall steps.

local mat = require "mtcnn.eval.mat"
local core = require("mtcnn.core").eval
local predictions = require "mtcnn.eval.predictions"

local wider = {}

wider.SETTINGS = {"easy", "medium", "hard"}
wider.THRESHOLDS = 1000
wider.IOU = 0.5

-- ---- ground truth ---------------------------------------------------------------------------

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- The folder holding wider_face_val.mat: dir itself, dir/ground_truth or
--- dir/eval_tools/ground_truth.
function wider.find_gt_dir(dir)
  for _, sub in ipairs({"", "/ground_truth", "/eval_tools/ground_truth"}) do
    if exists(dir .. sub .. "/wider_face_val.mat") then return dir .. sub end
  end
  return nil, ("no wider_face_val.mat in %s, %s/ground_truth or %s/eval_tools/ground_truth"):format(
    dir, dir, dir)
end

local function need(vars, name, path)
  local v = vars[name]
  if not v then return nil, ("%s: no variable '%s'"):format(path, name) end
  if v.class ~= "cell" then return nil, ("%s: '%s' is a %s, a cell array expected"):format(path, name, v.class) end
  return v
end

--- Builds a ground-truth table from plain Lua data (tests, other sources):
--- images = {{event = "0--Parade", name = "0_Parade_x", boxes = {{x, y, w, h}, ...},
---            keep = {easy = {1, 3}, medium = {...}, hard = {...}}}, ...}
--- arith = "int32" | "double" (the class MATLAB would hold the boxes in).
function wider.make_gt(images, arith)
  local gt = {arith = arith or "double", images = {}, by_key = {}, source = "(in memory)"}
  for i, im in ipairs(images) do
    local flat = {}
    for _, b in ipairs(im.boxes) do
      for k = 1, 4 do flat[#flat + 1] = b[k] end
    end
    local entry = {event = im.event, name = im.name, key = im.event .. "/" .. im.name,
                   boxes = flat, nfaces = #im.boxes, keep = {}}
    for _, s in ipairs(wider.SETTINGS) do entry.keep[s] = (im.keep and im.keep[s]) or {} end
    gt.images[i] = entry
    gt.by_key[entry.key] = entry
  end
  return gt
end

--- Loads the official ground truth (wider_face_val.mat and
--- wider_{easy,medium,hard}_val.mat) from dir (see find_gt_dir).
--- Returns gt = {images = {{event, name, key, boxes (flat x y w h), nfaces,
--- keep = {easy = {...}, ...}}}, by_key, arith, source} or nil, message.
function wider.load_gt(dir)
  local gdir, err = wider.find_gt_dir(dir)
  if not gdir then return nil, err end
  local path = gdir .. "/wider_face_val.mat"
  local vars
  vars, err = mat.read(path)
  if not vars then return nil, err end
  local events, files, boxes
  events, err = need(vars, "event_list", path)
  if not events then return nil, err end
  files, err = need(vars, "file_list", path)
  if not files then return nil, err end
  boxes, err = need(vars, "face_bbx_list", path)
  if not boxes then return nil, err end
  if #files.items ~= #events.items or #boxes.items ~= #events.items then
    return nil, ("%s: %d events, %d file lists, %d box lists"):format(path, #events.items,
      #files.items, #boxes.items)
  end
  local gt = {images = {}, by_key = {}, source = gdir, arith = nil}
  for e, ev in ipairs(events.items) do
    local flist, blist = files.items[e], boxes.items[e]
    if #flist.items ~= #blist.items then
      return nil, ("%s: event %s has %d files and %d box lists"):format(path, ev.text, #flist.items, #blist.items)
    end
    for j, f in ipairs(flist.items) do
      local b = blist.items[j]
      local n = b.dims[1]
      if n > 0 and b.dims[2] ~= 4 then
        return nil, ("%s: boxes of %s/%s are %dx%d, Nx4 expected"):format(path, ev.text, f.text, n, b.dims[2])
      end
      local arith = mat.is_integer(b) and "int32" or "double"
      if n > 0 and b.class ~= "int32" and b.class ~= "double" then
        return nil, ("%s: boxes of %s/%s are %s (int32 or double expected)"):format(path, ev.text, f.text, b.class)
      end
      if n > 0 then
        if gt.arith and gt.arith ~= arith then
          return nil, path .. ": box arrays mix integer and double classes"
        end
        gt.arith = arith
      end
      local flat = {}
      for r = 1, n do -- column-major n x 4 -> x y w h per face
        for c = 1, 4 do flat[#flat + 1] = b.values[r + (c - 1) * n] end
      end
      local im = {event = ev.text, name = f.text, key = ev.text .. "/" .. f.text, boxes = flat,
                  nfaces = n, keep = {}}
      gt.images[#gt.images + 1] = im
      gt.by_key[im.key] = im
    end
  end
  gt.arith = gt.arith or "double"
  for _, s in ipairs(wider.SETTINGS) do
    local spath = ("%s/wider_%s_val.mat"):format(gdir, s)
    local svars
    svars, err = mat.read(spath)
    if not svars then return nil, err end
    local lists, sevents
    lists, err = need(svars, "gt_list", spath)
    if not lists then return nil, err end
    sevents, err = need(svars, "event_list", spath)
    if not sevents then return nil, err end
    if #lists.items ~= #events.items then
      return nil, ("%s: %d events, %s has %d"):format(spath, #lists.items, path, #events.items)
    end
    local k = 0
    for e, ev in ipairs(sevents.items) do
      if ev.text ~= events.items[e].text then
        return nil, ("%s: event %d is %s, %s has %s"):format(spath, e, ev.text, path, events.items[e].text)
      end
      local per_image = lists.items[e]
      if #per_image.items ~= #files.items[e].items then
        return nil, ("%s: event %s lists %d images, %s has %d"):format(spath, ev.text,
          #per_image.items, path, #files.items[e].items)
      end
      for _, keep in ipairs(per_image.items) do
        k = k + 1
        local im = gt.images[k]
        local idx = {}
        for i, v in ipairs(keep.values or {}) do
          local n = math.tointeger(v)
          if not n or n < 1 or n > im.nfaces then
            return nil, ("%s: %s keeps face %s of %d"):format(spath, im.key, tostring(v), im.nfaces)
          end
          idx[i] = n
        end
        im.keep[s] = idx
      end
    end
  end
  return gt
end

-- ---- predictions ----------------------------------------------------------------------------

--- preds (key -> boxes) from our JSON Lines records (predictions.read_jsonl).
function wider.predictions_from_records(records, source)
  local by, err = predictions.index(records, 2, source or "predictions")
  if not by then return nil, err end
  local preds = {}
  for k, rec in pairs(by) do preds[k] = rec.boxes end
  return preds
end

--- preds from a submission folder: for each ground-truth image, DIR/EVENT/NAME.txt
--- when it exists (as read_pred.m looks them up).
function wider.predictions_from_dir(dir, gt)
  local preds = {}
  for _, im in ipairs(gt.images) do
    local path = ("%s/%s/%s.txt"):format(dir, im.event, im.name)
    if exists(path) then
      local boxes, err = predictions.read_wider_file(path)
      if not boxes then return nil, err end
      preds[im.key] = boxes
    end
  end
  return preds
end

--- preds from a path: a submission folder or a JSON Lines file.
function wider.load_predictions(path, gt)
  if predictions.is_dir(path) then return wider.predictions_from_dir(path, gt) end
  local records, err = predictions.read_jsonl(path)
  if not records then return nil, err end
  return wider.predictions_from_records(records, path)
end

--- The set of ground-truth images whose JPEG is under dir (dir/EVENT/NAME.jpg
--- or dir/images/EVENT/NAME.jpg).
function wider.images_present(dir, gt)
  local set, n = {}, 0
  for _, im in ipairs(gt.images) do
    if exists(("%s/%s/%s.jpg"):format(dir, im.event, im.name))
      or exists(("%s/images/%s/%s.jpg"):format(dir, im.event, im.name)) then
      set[im.key] = true
      n = n + 1
    end
  end
  return set, n
end

-- ---- the protocol ---------------------------------------------------------------------------

-- A double rounded to the nearest single-precision value.
local function f32(x)
  return (string.unpack("<f", string.pack("<f", x)))
end
wider._f32 = f32

local REALMIN_SINGLE = f32(2 ^ -126)
local REALMAX_SINGLE = f32((2 - 2 ^ -23) * 2 ^ 127)

-- Indices of boxes sorted by descending score, ties in file order (MATLAB's sort is stable).
local function sorted_order(boxes)
  local order = {}
  for i = 1, #boxes do order[i] = i end
  table.sort(order, function(a, b)
    local sa, sb = boxes[a][5], boxes[b][5]
    if sa ~= sb then return sa > sb end
    return a < b
  end)
  return order
end

--- norm_score.m: returns a function raw score -> normalised score, and a
--- warning when every score is equal.
function wider.score_normaliser(all_scores)
  local max_s, min_s = REALMIN_SINGLE, REALMAX_SINGLE
  for _, s in ipairs(all_scores) do
    if s > max_s then max_s = s end
    if s < min_s then min_s = s end
  end
  max_s, min_s = f32(max_s), f32(min_s)
  local range = f32(max_s - min_s)
  if not (range > 0) then
    return function() return 1.0 end,
      "every prediction has the same score: the official tool would divide by zero and count none; "
      .. "all are given the normalised score 1"
  end
  return function(s) return f32(f32(f32(s) - min_s) / range) end
end

--- image_evaluation: proposal flags and running recall for one image and setting.
--- best[k], hit[k]: the face prediction k overlaps most and whether it reaches the
--- IoU threshold; counted[i]: face i belongs to the setting.
function wider.image_evaluation(best, hit, counted, nfaces)
  local recall_list = {}
  for i = 1, nfaces do recall_list[i] = 0 end
  local proposal, pred_recall, recalled = {}, {}, 0
  for h = 1, #best do
    proposal[h] = true
    if hit[h] then
      local idx = best[h]
      if not counted[idx] then
        recall_list[idx] = -1
        proposal[h] = false
      elseif recall_list[idx] == 0 then
        recall_list[idx] = 1
        recalled = recalled + 1
      end
    end
    pred_recall[h] = recalled
  end
  return proposal, pred_recall
end

--- image_pr_info: per threshold, proposals and recalled faces among the
--- predictions with score >= threshold (scores sorted non-increasing). Adds them
--- into acc_prop[t], acc_rec[t].
function wider.accumulate_pr(scores, proposal, pred_recall, acc_prop, acc_rec)
  local n, r, props = #scores, 0, 0
  for t = 1, wider.THRESHOLDS do
    local thresh = 1 - t / wider.THRESHOLDS
    while r < n and scores[r + 1] >= thresh do
      r = r + 1
      if proposal[r] then props = props + 1 end
    end
    if r > 0 then
      acc_prop[t] = acc_prop[t] + props
      acc_rec[t] = acc_rec[t] + pred_recall[r]
    end
  end
end

-- MATLAB's max of two values: NaN is skipped.
local function nanmax(a, b)
  if a ~= a then return b end
  if b ~= b then return a end
  return a > b and a or b
end

--- VOCap(rec, prec) of the VOC devkit, with MATLAB's NaN handling.
function wider.voc_ap(rec, prec)
  local mrec, mpre = {0}, {0}
  for i = 1, #rec do
    mrec[i + 1] = rec[i]
    mpre[i + 1] = prec[i]
  end
  mrec[#mrec + 1] = 1
  mpre[#mpre + 1] = 0
  for i = #mpre - 1, 1, -1 do mpre[i] = nanmax(mpre[i], mpre[i + 1]) end
  local ap = 0
  for i = 2, #mrec do
    if mrec[i] ~= mrec[i - 1] then ap = ap + (mrec[i] - mrec[i - 1]) * mpre[i] end
  end
  return ap
end

--- The evaluated images, in ground-truth order.
local function select_images(gt, preds, opts)
  local list = {}
  for _, im in ipairs(gt.images) do
    local take
    if opts.images then take = opts.images[im.key] == true
    elseif opts.subset == "all" then take = true
    else take = preds[im.key] ~= nil end
    if take then list[#list + 1] = im end
  end
  return list
end

--- Runs the protocol. Returns {settings = {easy = {ap, faces, precision,
--- recall}, ...}, images = evaluated, images_total, predicted (images with
--- predictions), boxes, unmatched_keys (prediction keys that are not
--- ground-truth images), subset, iou, arith, warnings}.
function wider.evaluate(gt, preds, opts)
  opts = opts or {}
  local iou = opts.iou or "official"
  assert(iou == "official" or iou == "exact", "wider.evaluate: iou must be \"official\" or \"exact\"")
  local arith = iou == "exact" and "double" or gt.arith
  local images = select_images(gt, preds, opts)
  local result = {images = #images, images_total = #gt.images, predicted = 0, boxes = 0,
                  subset = opts.images and "images" or opts.subset or "predicted", iou = iou,
                  arith = arith, warnings = {}, settings = {}}
  local unmatched = 0
  for k in pairs(preds) do
    if not gt.by_key[k] then unmatched = unmatched + 1 end
  end
  result.unmatched_keys = unmatched

  -- sort each image's predictions; gather every score for the normalisation
  local sorted, all_scores = {}, {}
  for i, im in ipairs(images) do
    local boxes = preds[im.key]
    if boxes then
      result.predicted = result.predicted + 1
      local order = sorted_order(boxes)
      local s = {}
      for r, k in ipairs(order) do
        s[r] = boxes[k]
        all_scores[#all_scores + 1] = boxes[k][5]
      end
      sorted[i] = s
      result.boxes = result.boxes + #s
    end
  end
  local norm, warn = wider.score_normaliser(all_scores)
  if warn and #all_scores > 0 then result.warnings[#result.warnings + 1] = warn end

  -- per image: the best face of each prediction (independent of the setting)
  local matches = {}
  for i, im in ipairs(images) do
    local s = sorted[i]
    if s and #s > 0 and im.nfaces > 0 then
      local flat, scores = {}, {}
      for r, b in ipairs(s) do
        flat[#flat + 1], flat[#flat + 2], flat[#flat + 3], flat[#flat + 4] = b[1], b[2], b[3], b[4]
        scores[r] = norm(b[5])
      end
      local best, overlap = core.wider_match(im.boxes, arith, flat)
      local hit = {}
      for r = 1, #s do hit[r] = overlap[r] >= wider.IOU end
      matches[i] = {best = best, hit = hit, scores = scores}
    end
  end

  for _, setting in ipairs(wider.SETTINGS) do
    local acc_prop, acc_rec = {}, {}
    for t = 1, wider.THRESHOLDS do acc_prop[t], acc_rec[t] = 0, 0 end
    local faces = 0
    for i, im in ipairs(images) do
      local keep = im.keep[setting]
      faces = faces + #keep
      local m = matches[i]
      if m then
        local counted = {}
        for _, idx in ipairs(keep) do counted[idx] = true end
        local proposal, pred_recall = wider.image_evaluation(m.best, m.hit, counted, im.nfaces)
        wider.accumulate_pr(m.scores, proposal, pred_recall, acc_prop, acc_rec)
      end
    end
    local precision, recall = {}, {}
    for t = 1, wider.THRESHOLDS do
      precision[t] = acc_rec[t] / acc_prop[t] -- 0/0 is NaN, as in MATLAB
      recall[t] = acc_rec[t] / faces
    end
    local ap = faces > 0 and wider.voc_ap(recall, precision) or 0 / 0
    result.settings[setting] = {ap = ap, faces = faces, precision = precision, recall = recall,
                                proposals = acc_prop, recalled = acc_rec}
  end
  return result
end

-- ---- false detections by size -----------------------------------------------------------------

--- The longer sides (pixels) that split false detections into classes: below 20, 20-40,
--- 40-80, 80 or more.
wider.FALSE_SIDES = {20, 40, 80}

--- Counts the false detections of the evaluated images (selected as wider.evaluate selects
--- them): predictions whose overlap with every annotated face is below 0.5, the faces that
--- no setting counts included (so that a detection of a tiny or heavily occluded face is not
--- false). They are split by the longer side of the box (wider.FALSE_SIDES), and counted
--- twice: at every score and at raw scores >= opts.min_score (default 0.9), the ones that rank
--- above true faces and sink the precision. Overlaps are exact (double precision, the +1
--- convention): the official int32 rounding would make every overlap 0 or 1. Returns
--- {min_score, sides = {20, 40, 80}, scored = {n1, ..., n4, all = n}, any_score = {...},
--- no_overlap = {scored = n, any_score = n} (the false detections that touch no face)}.
function wider.false_detections(gt, preds, opts)
  opts = opts or {}
  local min_score = opts.min_score or 0.9
  local sides = wider.FALSE_SIDES
  local function counts()
    local c = {all = 0}
    for i = 1, #sides + 1 do c[i] = 0 end
    return c
  end
  local r = {min_score = min_score, sides = sides, scored = counts(), any_score = counts(),
             no_overlap = {scored = 0, any_score = 0}}
  for _, im in ipairs(select_images(gt, preds, opts)) do
    local boxes = preds[im.key]
    if boxes and #boxes > 0 then
      local overlap = {}
      if im.nfaces > 0 then
        local flat = {}
        for _, b in ipairs(boxes) do
          flat[#flat + 1], flat[#flat + 2], flat[#flat + 3], flat[#flat + 4] = b[1], b[2], b[3], b[4]
        end
        overlap = select(2, core.wider_match(im.boxes, "double", flat))
      end
      for k, b in ipairs(boxes) do
        local ov = overlap[k] or 0
        if not (ov >= wider.IOU) then
          local side = math.max(b[3], b[4])
          local bin = #sides + 1
          for i, limit in ipairs(sides) do
            if side < limit then bin = i break end
          end
          local confident = b[5] >= min_score
          r.any_score[bin], r.any_score.all = r.any_score[bin] + 1, r.any_score.all + 1
          if confident then r.scored[bin], r.scored.all = r.scored[bin] + 1, r.scored.all + 1 end
          if not (ov > 0) then
            r.no_overlap.any_score = r.no_overlap.any_score + 1
            if confident then r.no_overlap.scored = r.no_overlap.scored + 1 end
          end
        end
      end
    end
  end
  return r
end

return wider

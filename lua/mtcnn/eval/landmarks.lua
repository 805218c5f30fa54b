-- mtcnn.eval.landmarks: 5-point landmark error on a landmark list
-- (testImageList format); docs/design.md, 'Landmark error'.
--
--   local entries = assert(landmarks.read_list(path))
--   local r = landmarks.evaluate(entries, preds)            -- preds from JSON Lines
--   local r = landmarks.evaluate_with_detector(entries, root, detect)  -- runs a detector
--   r.nme, r.median_nme, r.failure_rate, r.misses, r.per_point, r.ced
--
-- A list line is "path left right top bottom x1 y1 ... x5 y5" (Windows line
-- ends and backslashes allowed): the face box in the order left, right, top,
-- bottom, then left eye, right eye, nose, left and right mouth corner, as
-- 0-based pixel coordinates.
--
-- Per line: among the image's detections, the one with the highest IoU
-- against the ground-truth box (inclusive boxes, +1 areas) is taken if that
-- IoU is >= 0.4, else the face is a miss. Its error is the mean over the 5
-- points of the Euclidean distance to the ground truth divided by the
-- inter-ocular distance (the two ground-truth eye points). Reported: mean
-- and median NME and per point over the matched faces, the failure rate
-- (NME > 0.1) over the matched faces, the misses, and the cumulative error
-- distribution (CED) with its area up to NME 0.1.

local predictions = require "mtcnn.eval.predictions"

local landmarks = {}

landmarks.POINTS = {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}
landmarks.MIN_IOU = 0.4
landmarks.FAILURE = 0.1
landmarks.KEY_DEPTH = 2

--- Parses a landmark list. Returns {{image, key, box = {x1, y1, x2, y2},
--- points = {{x, y} x5}, line}, ...} or nil, message naming the line.
function landmarks.read_list(path)
  local lines, err = predictions.read_lines(path, "landmark list")
  if not lines then return nil, err end
  local entries = {}
  for n, line in ipairs(lines) do
    if line:match("%S") then
      local tok = {}
      for t in line:gmatch("%S+") do tok[#tok + 1] = t end
      local v = {}
      for i = 2, #tok do v[i - 1] = tonumber(tok[i]) end
      if #tok ~= 15 or #v ~= 14 then
        return nil, ("%s:%d: expected 'path left right top bottom' and 5 points (15 fields), got %d fields")
          :format(path, n, #tok)
      end
      local image = tok[1]:gsub("\\", "/")
      local e = {image = image, key = predictions.key(image, landmarks.KEY_DEPTH), line = n,
                 box = {v[1], v[3], v[2], v[4]}, points = {}}
      for k = 1, 5 do e.points[k] = {v[3 + 2 * k], v[4 + 2 * k]} end
      entries[#entries + 1] = e
    end
  end
  return entries
end

--- IoU of two inclusive boxes {x1, y1, x2, y2} with the +1 pixel convention.
function landmarks.iou(a, b)
  local w = math.min(a[3], b[3]) - math.max(a[1], b[1]) + 1
  local h = math.min(a[4], b[4]) - math.max(a[2], b[2]) + 1
  if w <= 0 or h <= 0 then return 0 end
  local inter = w * h
  local ua = (a[3] - a[1] + 1) * (a[4] - a[2] + 1) + (b[3] - b[1] + 1) * (b[4] - b[2] + 1) - inter
  return inter / ua
end

--- The detection that matches a ground-truth box: the highest IoU, >= 0.4.
--- faces are our JSON faces ({box, score, landmarks}). Returns face, iou or nil, best iou.
function landmarks.match(box, faces)
  local best, best_iou = nil, -1
  for _, face in ipairs(faces) do
    local o = landmarks.iou(box, face.box)
    if o > best_iou then best, best_iou = face, o end
  end
  if best and best_iou >= landmarks.MIN_IOU then return best, best_iou end
  return nil, math.max(best_iou, 0)
end

--- Per-point errors of one face normalised by the inter-ocular distance.
--- Returns errors {e1..e5}, nme, or nil, message.
function landmarks.face_error(gt_points, pred_points)
  local ex, ey = gt_points[1][1] - gt_points[2][1], gt_points[1][2] - gt_points[2][2]
  local iod = math.sqrt(ex * ex + ey * ey)
  if not (iod > 0) then return nil, "the two ground-truth eye points coincide" end
  local errs, sum = {}, 0
  for k = 1, 5 do
    local p = pred_points[k]
    local dx, dy = p[1] - gt_points[k][1], p[2] - gt_points[k][2]
    errs[k] = math.sqrt(dx * dx + dy * dy) / iod
    sum = sum + errs[k]
  end
  return errs, sum / 5
end

local function check_points(pts)
  if type(pts) ~= "table" or #pts ~= 5 then return false end
  for k = 1, 5 do
    local p = pts[k]
    if type(p) ~= "table" or type(p[1]) ~= "number" or type(p[2]) ~= "number" then return false end
  end
  return true
end

local function median(sorted)
  local n = #sorted
  if n == 0 then return 0 / 0 end
  if n % 2 == 1 then return sorted[(n + 1) // 2] end
  return (sorted[n // 2] + sorted[n // 2 + 1]) / 2
end

--- Scores the entries against preds (key -> list of our JSON faces). Entries
--- whose image has no entry in preds are left out and counted (unpredicted).
--- Returns the result table or nil, message.
function landmarks.evaluate(entries, preds)
  local r = {entries = #entries, evaluated = 0, matched = 0, misses = 0, unpredicted = 0,
             failures = 0, per_point = {}, nmes = {}, warnings = {}}
  local point_sum = {0, 0, 0, 0, 0}
  for _, e in ipairs(entries) do
    local faces = preds[e.key]
    if faces == nil then
      r.unpredicted = r.unpredicted + 1
    else
      r.evaluated = r.evaluated + 1
      local face = landmarks.match(e.box, faces)
      if not face then
        r.misses = r.misses + 1
      else
        if not check_points(face.landmarks) then
          return nil, ("%s (line %d): the matched detection has no 5 landmarks"):format(e.image, e.line)
        end
        local errs, nme = landmarks.face_error(e.points, face.landmarks)
        if not errs then return nil, ("%s (line %d): %s"):format(e.image, e.line, nme) end
        r.matched = r.matched + 1
        r.nmes[#r.nmes + 1] = nme
        for k = 1, 5 do point_sum[k] = point_sum[k] + errs[k] end
        if nme > landmarks.FAILURE then r.failures = r.failures + 1 end
      end
    end
  end
  local sum = 0
  for _, v in ipairs(r.nmes) do sum = sum + v end
  r.nme = r.matched > 0 and sum / r.matched or 0 / 0
  local sorted = {table.unpack(r.nmes)}
  table.sort(sorted)
  r.median_nme = median(sorted)
  r.failure_rate = r.matched > 0 and r.failures / r.matched or 0 / 0
  r.miss_rate = r.evaluated > 0 and r.misses / r.evaluated or 0 / 0
  for k, name in ipairs(landmarks.POINTS) do
    r.per_point[name] = r.matched > 0 and point_sum[k] / r.matched or 0 / 0
  end
  r.ced = landmarks.ced(sorted)
  r.auc = landmarks.ced_area(sorted, landmarks.FAILURE)
  if r.unpredicted > 0 then
    r.warnings[#r.warnings + 1] = ("%d of %d list entries have no predictions and were left out")
      :format(r.unpredicted, r.entries)
  end
  return r
end

--- The cumulative error distribution of sorted NMEs: {nme = {...}, fraction =
--- {...}}, the fraction of faces with error <= nme at each distinct error.
function landmarks.ced(sorted)
  local out = {nme = {}, fraction = {}}
  local n = #sorted
  for i = 1, n do
    if i == n or sorted[i + 1] ~= sorted[i] then
      out.nme[#out.nme + 1] = sorted[i]
      out.fraction[#out.fraction + 1] = i / n
    end
  end
  return out
end

--- Area under the CED from 0 to limit, divided by limit (1 = every error 0).
function landmarks.ced_area(sorted, limit)
  local n = #sorted
  if n == 0 then return 0 / 0 end
  local area, prev_x, frac = 0, 0, 0
  for i = 1, n do
    local x = math.min(sorted[i], limit)
    area = area + (x - prev_x) * frac
    prev_x = x
    frac = i / n
    if sorted[i] >= limit then break end
  end
  if prev_x < limit then area = area + (limit - prev_x) * frac end
  return area / limit
end

--- Predictions for the entries from our JSON Lines records: key -> faces.
function landmarks.predictions_from_records(records, source)
  local by, err = predictions.index(records, landmarks.KEY_DEPTH, source or "predictions")
  if not by then return nil, err end
  local preds = {}
  for k, rec in pairs(by) do preds[k] = rec.faces end
  return preds
end

--- Runs detect(image_path) -> faces (our JSON faces: {box, score, landmarks})
--- on every entry's image (root .. "/" .. entry.image) and scores the result.
--- progress(i, n) is called after each image when given. This is where a
--- detector plugs in: eval_landmarks.lua --model calls it.
function landmarks.evaluate_with_detector(entries, root, detect, progress)
  local preds, failed, unreadable = {}, {}, {}
  for i, e in ipairs(entries) do
    if preds[e.key] == nil and not failed[e.key] then
      local faces, err = detect(root .. "/" .. e.image)
      if faces == nil then
        -- an unreadable image is reported and left out (its faces count as unpredicted)
        failed[e.key] = true
        unreadable[#unreadable + 1] = ("%s: %s"):format(e.image, tostring(err))
      else
        preds[e.key] = faces
      end
    end
    if progress then progress(i, #entries) end
  end
  local r, err = landmarks.evaluate(entries, preds)
  if not r then return nil, err end
  r.unreadable = #unreadable
  r.unreadable_list = unreadable
  if #unreadable > 0 then -- one line, however many (a wrong folder makes them all unreadable)
    local more = #unreadable - 1
    r.warnings[#r.warnings + 1] = "skipped: " .. unreadable[1] .. (more > 0 and
      (" (and %d more image%s that could not be read)"):format(more, more == 1 and "" or "s") or "")
  end
  return r
end

return landmarks

-- mtcnn.eval.fddb: the FDDB protocol (Jain and Learned-Miller, evaluate.cpp):
-- discrete and continuous ROC of detection rectangles against the
-- ground-truth ellipses; docs/design.md, 'FDDB', and docs/evaluation.md.
--
--   local gt = assert(fddb.load_gt(folds_dir [, {1, 2, ...}]))
--   local preds = assert(fddb.load_predictions(path))   -- rectangle list or JSON Lines
--   local r = fddb.evaluate(gt, preds, opts)
--   r.discrete, r.continuous: ROC points {fp = {...}, tpr = {...}, threshold = {...}}
--   fddb.tpr_at(r.discrete, 1000)
--
-- opts: subset = "predicted" (default: the ground-truth images with an entry
-- in preds) | "all" (every image; a missing one has no detections);
-- sizes = key -> {width, height} for images whose size preds does not give.
--
-- The protocol, as evaluate.cpp computes it:
--   * overlap of an ellipse and a rectangle = |E and R| / |E or R| in pixels
--     (drawn as OpenCV draws them: runtime/eval/mt_eval_fddb.c), inside the image
--     when its size is known;
--   * per image, for each distinct detection score s (ascending), the
--     detections with score >= s are matched one-to-one to the faces so that
--     the total overlap is largest (Hungarian method, over the faces and
--     detections that overlap something); a matched pair with overlap > 0
--     adds its overlap to the continuous true positives, and with overlap
--     > 0.5 one discrete true positive; false positives = detections kept
--     minus discrete true positives; an image without detections has one
--     point at the largest double with none;
--   * the per-image results are summed at every threshold of any image (an
--     image contributes its point with the smallest threshold >= t, or only
--     its faces); TPR = true positives / faces.

local core = require("mtcnn.core").eval
local predictions = require "mtcnn.eval.predictions"

local fddb = {}

fddb.DBL_MAX = 1.7976931348623157e308
fddb.KEY_DEPTH = 5 -- "2002/08/11/big/img_591"

local function finite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

-- One "major minor angle cx cy 1" line: the five numbers, or nil and a message.
local function parse_ellipse(line, where)
  local v, bad = {}, false
  for tok in line:gmatch("%S+") do
    local x = tonumber(tok)
    if not finite(x) then bad = true end
    v[#v + 1] = x
  end
  if bad or #v < 5 then
    return nil, ("%s: expected 'major minor angle cx cy 1', got '%s'"):format(where, line)
  end
  return {v[1], v[2], v[3], v[4], v[5]}
end

--- Reads one ellipse list: blocks of an image name, a face count, then
--- "major minor angle cx cy 1" lines. Returns {{name, ellipses = {{major,
--- minor, angle, cx, cy}, ...}}, ...} or nil, message.
function fddb.read_ellipse_list(path)
  local images, err = predictions.read_blocks(path, "ellipse list", "faces", parse_ellipse)
  if not images then return nil, err end
  for _, im in ipairs(images) do im.ellipses, im.items = im.items, nil end
  return images
end

--- Loads FDDB-fold-XX-ellipseList.txt from dir for the given folds (default:
--- every fold 1..10 that is present). Returns {images, by_key, folds} or nil,
--- message.
function fddb.load_gt(dir, folds)
  local list = folds
  if not list then
    list = {}
    for k = 1, 10 do
      local f = io.open(("%s/FDDB-fold-%02d-ellipseList.txt"):format(dir, k), "rb")
      if f then
        f:close()
        list[#list + 1] = k
      end
    end
    if #list == 0 then return nil, ("no FDDB-fold-XX-ellipseList.txt in %s"):format(dir) end
  end
  local gt = {images = {}, by_key = {}, folds = list, source = dir, faces = 0}
  for _, k in ipairs(list) do
    local images, err = fddb.read_ellipse_list(("%s/FDDB-fold-%02d-ellipseList.txt"):format(dir, k))
    if not images then return nil, err end
    for _, im in ipairs(images) do
      im.key = predictions.key(im.name, fddb.KEY_DEPTH)
      if gt.by_key[im.key] then return nil, ("%s: image %s is listed twice"):format(dir, im.name) end
      gt.images[#gt.images + 1] = im
      gt.by_key[im.key] = im
      gt.faces = gt.faces + #im.ellipses
    end
  end
  return gt
end

--- Builds a ground-truth table from plain data (tests, other sources):
--- images = {{name = "2002/08/11/big/img_591", ellipses = {{major, minor, angle, cx, cy}, ...}}, ...}
function fddb.make_gt(images)
  local gt = {images = {}, by_key = {}, folds = {}, source = "(in memory)", faces = 0}
  for i, im in ipairs(images) do
    local e = {name = im.name, ellipses = im.ellipses, key = predictions.key(im.name, fddb.KEY_DEPTH)}
    gt.images[i] = e
    gt.by_key[e.key] = e
    gt.faces = gt.faces + #im.ellipses
  end
  return gt
end

--- preds (key -> {boxes = {{x, y, w, h, score}, ...}, width, height}) from
--- a rectangle list or our JSON Lines (chosen by the first character: "{").
function fddb.load_predictions(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open predictions " .. err end
  local head = f:read(4096) or ""
  f:close()
  local records
  if head:match("^%s*{") then records, err = predictions.read_jsonl(path)
  else records, err = predictions.read_rect_file(path) end
  if not records then return nil, err end
  return predictions.index(records, fddb.KEY_DEPTH, path)
end

--- Reads a sizes file: "NAME WIDTH HEIGHT" per line.
function fddb.read_sizes(path)
  local lines, err = predictions.read_lines(path, "sizes")
  if not lines then return nil, err end
  local sizes = {}
  for n, line in ipairs(lines) do
    if line:match("%S") then
      local name, w, h = line:match("^%s*(%S+)%s+(%d+)%s+(%d+)%s*$")
      if not name then
        return nil, ("%s:%d: expected 'NAME WIDTH HEIGHT', got '%s'"):format(path, n, line)
      end
      sizes[predictions.key(name, fddb.KEY_DEPTH)] = {tonumber(w), tonumber(h)}
    end
  end
  return sizes
end

--- The per-image results of evaluate.cpp: a list of {threshold, n, tp_disc,
--- tp_cont, fp}, thresholds ascending. ellipses {{major, minor, angle, cx,
--- cy}}, boxes {{x, y, w, h, score}}, width/height (0 or nil: unclipped).
function fddb.image_results(ellipses, boxes, width, height)
  local na, nd = #ellipses, #boxes
  if nd == 0 then
    return {{threshold = fddb.DBL_MAX, n = na, tp_disc = 0, tp_cont = 0, fp = 0}}
  end
  local eflat, rflat = {}, {}
  for _, e in ipairs(ellipses) do
    for k = 1, 5 do eflat[#eflat + 1] = e[k] end
  end
  for _, b in ipairs(boxes) do
    for k = 1, 4 do rflat[#rflat + 1] = b[k] end
  end
  local ov = core.fddb_overlaps(eflat, rflat, width or 0, height or 0)
  local scores = {}
  for d, b in ipairs(boxes) do scores[d] = b[5] end
  return fddb.results_from_overlaps(ov, na, scores)
end

--- The per-threshold results of one image from its overlap matrix ov (flat,
--- row-major faces x detections) and the detections' scores.
function fddb.results_from_overlaps(ov, na, scores)
  local nd = #scores
  if nd == 0 then
    return {{threshold = fddb.DBL_MAX, n = na, tp_disc = 0, tp_cont = 0, fp = 0}}
  end
  local function score(a, d) return ov[(a - 1) * nd + d] end
  local uniq, seen = {}, {}
  for _, s in ipairs(scores) do
    if not seen[s] then
      seen[s] = true
      uniq[#uniq + 1] = s
    end
  end
  table.sort(uniq)

  local out = {}
  for _, st in ipairs(uniq) do
    local valid, nvalid = {}, 0
    for d = 1, nd do
      valid[d] = scores[d] >= st
      if valid[d] then nvalid = nvalid + 1 end
    end
    -- rows: faces overlapping some kept detection; cols: kept detections overlapping some face
    local rows, cols = {}, {}
    for a = 1, na do
      local sum = 0
      for d = 1, nd do
        if valid[d] then sum = sum + score(a, d) end
      end
      if sum ~= 0 then rows[#rows + 1] = a end
    end
    for d = 1, nd do
      if valid[d] then
        local sum = 0
        for a = 1, na do sum = sum + score(a, d) end
        if sum ~= 0 then cols[#cols + 1] = d end
      end
    end
    local tp_disc, tp_cont = 0, 0
    if #rows > 0 and #cols > 0 then
      local m = {}
      for i, a in ipairs(rows) do
        local r = {}
        for j, d in ipairs(cols) do r[j] = score(a, d) end
        m[i] = r
      end
      local assign = core.hungarian(m)
      for i, j in ipairs(assign) do
        if j > 0 then
          local s = m[i][j]
          if s > 0 then
            tp_cont = tp_cont + s
            if s > 0.5 then tp_disc = tp_disc + 1 end
          end
        end
      end
    end
    out[#out + 1] = {threshold = st, n = na, tp_disc = tp_disc, tp_cont = tp_cont,
                     fp = nvalid - tp_disc}
  end
  return out
end

--- Sums per-image results into the cumulative ROC (Results::merge): one point
--- per distinct threshold, ascending. Returns {threshold, fp, tp_disc,
--- tp_cont} lists and the face count.
function fddb.merge(per_image)
  local n_total = 0
  local events = {} -- every (threshold, image, entry); sums start at each image's first entry
  local sum_fp, sum_disc, sum_cont = 0, 0, 0
  for i, res in ipairs(per_image) do
    n_total = n_total + res[1].n
    sum_fp, sum_disc, sum_cont = sum_fp + res[1].fp, sum_disc + res[1].tp_disc, sum_cont + res[1].tp_cont
    for k, e in ipairs(res) do events[#events + 1] = {e.threshold, i, k} end
  end
  table.sort(events, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[3] < b[3]
  end)
  local roc = {threshold = {}, fp = {}, tp_disc = {}, tp_cont = {}, n = n_total}
  local e = 1
  while e <= #events do
    local t = events[e][1]
    local p = #roc.threshold + 1
    roc.threshold[p], roc.fp[p], roc.tp_disc[p], roc.tp_cont[p] = t, sum_fp, sum_disc, sum_cont
    -- every image whose current point sits at t moves to its next one (or to none)
    while e <= #events and events[e][1] == t do
      local i, k = events[e][2], events[e][3]
      local res = per_image[i]
      local old = res[k]
      sum_fp, sum_disc, sum_cont = sum_fp - old.fp, sum_disc - old.tp_disc, sum_cont - old.tp_cont
      local new = res[k + 1]
      if new then
        sum_fp, sum_disc, sum_cont = sum_fp + new.fp, sum_disc + new.tp_disc, sum_cont + new.tp_cont
      end
      e = e + 1
    end
  end
  return roc
end

--- Runs the protocol. Returns {images, images_total, faces, detections,
--- clipped (images whose size was known), discrete = {fp, tpr, threshold},
--- continuous = {fp, tpr, threshold}, max_fp, subset, warnings}.
function fddb.evaluate(gt, preds, opts)
  opts = opts or {}
  local sizes = opts.sizes or {}
  local per_image, result = {}, {images = 0, images_total = #gt.images, faces = 0, detections = 0,
                                 clipped = 0, subset = opts.subset or "predicted", warnings = {}}
  local unmatched = 0
  for k in pairs(preds) do
    if not gt.by_key[k] then unmatched = unmatched + 1 end
  end
  result.unmatched_keys = unmatched
  local progress = opts.progress
  for idx, im in ipairs(gt.images) do
    local rec = preds[im.key]
    if rec or opts.subset == "all" then
      local boxes = rec and rec.boxes or {}
      local w, h = rec and rec.width, rec and rec.height
      if not (w and h) and sizes[im.key] then w, h = sizes[im.key][1], sizes[im.key][2] end
      if w and h then result.clipped = result.clipped + 1 end
      per_image[#per_image + 1] = fddb.image_results(im.ellipses, boxes, w, h)
      result.images = result.images + 1
      result.faces = result.faces + #im.ellipses
      result.detections = result.detections + #boxes
    end
    if progress then progress(idx, #gt.images) end
  end
  if result.images == 0 then return nil, "no ground-truth image has predictions" end
  local roc = fddb.merge(per_image)
  local disc = {fp = roc.fp, threshold = roc.threshold, tpr = {}}
  local cont = {fp = roc.fp, threshold = roc.threshold, tpr = {}}
  for i = 1, #roc.fp do
    disc.tpr[i] = roc.n > 0 and roc.tp_disc[i] / roc.n or 0
    cont.tpr[i] = roc.n > 0 and roc.tp_cont[i] / roc.n or 0
  end
  result.discrete, result.continuous = disc, cont
  result.max_fp = roc.fp[1] or 0
  if result.clipped < result.images then
    result.warnings[#result.warnings + 1] = ("%d of %d images have no known size: their regions "
      .. "are not clipped to the image (give JSON Lines with width and height, --sizes or --images)")
      :format(result.images - result.clipped, result.images)
  end
  return result
end

--- The true-positive rate at k false positives: the highest TPR among the
--- ROC points with at most k false positives (0 when there is none).
function fddb.tpr_at(curve, k)
  local best = 0
  for i = 1, #curve.fp do
    if curve.fp[i] <= k and curve.tpr[i] > best then best = curve.tpr[i] end
  end
  return best
end

--- Writes the ROC in the official files' layout: PREFIXDiscROC.txt ("tpr fp
--- threshold" per line) and PREFIXContROC.txt ("tpr fp").
function fddb.write_roc_files(result, prefix)
  local disc, cont = {}, {}
  local fmt = predictions.fmt_number
  for i = 1, #result.discrete.fp do
    disc[i] = ("%s %s %s"):format(fmt(result.discrete.tpr[i]), fmt(result.discrete.fp[i]),
      fmt(result.discrete.threshold[i]))
    cont[i] = ("%s %s"):format(fmt(result.continuous.tpr[i]), fmt(result.continuous.fp[i]))
  end
  local ok, err = predictions.write_atomic(prefix .. "DiscROC.txt", table.concat(disc, "\n") .. "\n")
  if not ok then return nil, err end
  return predictions.write_atomic(prefix .. "ContROC.txt", table.concat(cont, "\n") .. "\n")
end

return fddb

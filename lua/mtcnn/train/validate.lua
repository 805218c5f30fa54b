-- mtcnn.train.validate: a net's quality on held-out record files (every sample, in order, no
-- augmentation).
--
--   local validate = require "mtcnn.train.validate"
--   local v = assert(validate.new{stage = "pnet", files = {"detection/val.rec", "landmark/val.rec"},
--                                 weights = {cls = 1, box = 0.5, landmarks = 0.5}, threshold = 0.6})
--   local m = v:run(net)     -- the metrics below; the net is left in training mode
--   v:close()
--
-- Metrics: loss (the weighted sum of the task losses, without OHEM or L2: every positive and
-- negative counts), cls, box, landmarks (each task's mean over the whole set, as MTCNNLoss
-- defines them); accuracy (argmax, positives and negatives), accuracy_positive,
-- accuracy_negative; recall (positives whose face probability passes the stage threshold:
-- >= for PNet, > for RNet and ONet, as the detector keeps them) and fpr (negatives that pass
-- it); box_iou (mean IoU of the crop calibrated by the predicted offsets with the crop
-- calibrated by the target offsets, positives and part faces; box_iou_positive: positives
-- only); landmark_error (mean over landmark faces of the mean distance of the five points,
-- in units of the crop side) and landmark_nme (the same divided by the target's inter-ocular
-- distance); the counts of each class and the seconds taken.

local mtcnn = require "mtcnn"

local T, nn, record, loader, image, sys = mtcnn.tensor, mtcnn.nn, mtcnn.record, mtcnn.loader,
  mtcnn.image, mtcnn.sys

local validate = {}

local Validator = {}
Validator.__index = Validator

--- validate.new{stage, files, weights = {cls, box, landmarks}, threshold, batch = 384,
--- workers = 1} -> validator | nil, message (a missing or damaged file, or no samples)
function validate.new(opts)
  local stage = assert(opts.stage, "validate: stage required")
  local size = assert(record.SIZES[stage], "validate: unknown stage " .. tostring(stage))
  local files = opts.files
  if type(files) == "string" then files = {files} end
  assert(type(files) == "table" and #files > 0, "validate: files required")
  local handles, total, counts = {}, 0, {positive = 0, part = 0, negative = 0, landmark = 0}
  for i, path in ipairs(files) do
    local f, err = record.open(path, {size = size})
    if not f then
      for _, g in ipairs(handles) do g:close() end
      return nil, err
    end
    handles[i] = f
    total = total + f.count
    for k, n in pairs(f:counts()) do counts[k] = counts[k] + n end
  end
  if total == 0 then
    for _, g in ipairs(handles) do g:close() end
    return nil, ("validation: %s hold no samples"):format(table.concat(files, ", "))
  end
  local w = opts.weights or {}
  local batch = math.min(opts.batch or 384, total)
  return setmetatable({
    stage = stage, size = size, files = files, handles = handles, total = total, counts = counts,
    batch = batch, workers = opts.workers or 1, threshold = opts.threshold or 0.5,
    strict = stage ~= "pnet", -- RNet and ONet keep scores above the threshold, PNet from it
    crit = nn.MTCNNLoss{cls = w.cls or 1, box = w.box or 0.5, landmarks = w.landmarks or 0.5,
                        ohem = 1, weight_decay = 0},
  }, Validator)
end

-- The samples after the loader's whole batches (fewer than a batch), read one by one.
function Validator:tail(first)
  local images, labels, boxes, lmks = {}, {}, {}, {}
  local g, offset = first, 0
  for _, f in ipairs(self.handles) do
    while g <= self.total and g - offset <= f.count do
      local s = assert(f:get(g - offset))
      local k = #images + 1
      images[k], labels[k], boxes[k], lmks[k] = s.image, s.label, s.target, s.landmarks
      g = g + 1
    end
    offset = offset + f.count
  end
  if #images == 0 then return nil end
  return {images = image.to_batch(images), labels = T.tensor(labels), boxes = T.tensor(boxes),
          landmarks = T.tensor(lmks)}
end

-- IoU of two boxes given as target offsets of the same crop (in units of its side: the crop
-- spans [0, 1] and a box [t1, 1 + t3] x [t2, 1 + t4], the +1 pixel convention scaled).
local function offsets_iou(a, b)
  local ax1, ay1, ax2, ay2 = a[1], a[2], 1 + a[3], 1 + a[4]
  local bx1, by1, bx2, by2 = b[1], b[2], 1 + b[3], 1 + b[4]
  local aa = math.max(0, ax2 - ax1) * math.max(0, ay2 - ay1)
  local ab = math.max(0, bx2 - bx1) * math.max(0, by2 - by1)
  local iw = math.min(ax2, bx2) - math.max(ax1, bx1)
  local ih = math.min(ay2, by2) - math.max(ay1, by1)
  if iw <= 0 or ih <= 0 then return 0 end
  local inter = iw * ih
  return inter / (aa + ab - inter)
end

-- Accumulates one batch {images, labels, boxes, landmarks} into acc.
function Validator:add(net, b, acc)
  local dev = net.device or "cpu"
  local function on(t) return dev == "cpu" and t or t:to(dev) end
  local out = net:forward(on(b.images))
  local crit = self.crit
  crit:forward(out, {label = on(b.labels), box = on(b.boxes), landmarks = on(b.landmarks)})
  local s = crit.stats
  acc.cls_sum = acc.cls_sum + s.cls * s.n_kept
  acc.box_sum = acc.box_sum + s.box * s.n_box
  acc.lmk_sum = acc.lmk_sum + s.landmarks * s.n_landmarks
  local n = b.labels:size(1)
  local labels = b.labels:to_table()
  local prob = out.cls:view(n, 2):to_table()
  local pred_box = out.box:view(n, 4):to_table()
  local box = b.boxes:to_table()
  local pred_lmk = out.landmarks and out.landmarks:view(n, 10):to_table()
  local lmk = b.landmarks:to_table()
  local thr, strict = self.threshold, self.strict
  for i = 1, n do
    local y = labels[i]
    if y == 1 or y == 0 then
      local p = prob[i]
      local face = p[2] > p[1]
      local pass = strict and p[2] > thr or not strict and p[2] >= thr
      if y == 1 then
        acc.pos = acc.pos + 1
        if face then acc.pos_correct = acc.pos_correct + 1 end
        if pass then acc.pos_pass = acc.pos_pass + 1 end
      else
        acc.neg = acc.neg + 1
        if not face then acc.neg_correct = acc.neg_correct + 1 end
        if pass then acc.neg_pass = acc.neg_pass + 1 end
      end
    end
    if y == 1 or y == -1 then
      local iou = offsets_iou(pred_box[i], box[i])
      acc.iou_sum = acc.iou_sum + iou
      acc.n_box = acc.n_box + 1
      if y == 1 then acc.iou_pos_sum = acc.iou_pos_sum + iou end
    elseif y == -2 and pred_lmk then
      local p, t = pred_lmk[i], lmk[i]
      local d = 0
      for k = 1, 5 do d = d + math.sqrt((p[k] - t[k]) ^ 2 + (p[5 + k] - t[5 + k]) ^ 2) end
      d = d / 5
      acc.lmk_err = acc.lmk_err + d
      acc.n_lmk = acc.n_lmk + 1
      local eye = math.sqrt((t[1] - t[2]) ^ 2 + (t[6] - t[7]) ^ 2)
      if eye > 0 then
        acc.nme_sum = acc.nme_sum + d / eye
        acc.n_nme = acc.n_nme + 1
      end
    end
  end
  acc.n_cls = acc.n_cls + s.n_kept
  acc.n_box_loss = acc.n_box_loss + s.n_box
  acc.n_lmk_loss = acc.n_lmk_loss + s.n_landmarks
end

local function ratio(a, b)
  if b == 0 then return nil end
  return a / b
end

--- v:run(net) -> metrics (see the header). Raises on a damaged file.
function Validator:run(net)
  local t0 = sys.clock()
  local acc = {cls_sum = 0, box_sum = 0, lmk_sum = 0, n_cls = 0, n_box_loss = 0, n_lmk_loss = 0,
               pos = 0, neg = 0, pos_correct = 0, neg_correct = 0, pos_pass = 0, neg_pass = 0,
               iou_sum = 0, iou_pos_sum = 0, n_box = 0, lmk_err = 0, n_lmk = 0, nme_sum = 0,
               n_nme = 0}
  net:evaluate()
  local ok, err = pcall(function()
    local ld <close> = assert(loader.new{net = self.stage, files = self.files, batch = self.batch,
      shuffle = false, mirror = false, jitter = false, workers = self.workers})
    local whole = ld.steps_per_epoch
    for _ = 1, whole do
      local b = assert(ld:next())
      self:add(net, b, acc)
    end
    local rest = self:tail(whole * self.batch + 1)
    if rest then self:add(net, rest, acc) end
  end)
  net:training()
  if not ok then error(err, 0) end
  local w = self.crit
  local cls, box = ratio(acc.cls_sum, acc.n_cls), ratio(acc.box_sum, acc.n_box_loss)
  local lmk = ratio(acc.lmk_sum, acc.n_lmk_loss)
  return {
    loss = w.w_cls * (cls or 0) + w.w_box * (box or 0) + w.w_lmk * (lmk or 0),
    cls = cls, box = box, landmarks = lmk,
    accuracy = ratio(acc.pos_correct + acc.neg_correct, acc.pos + acc.neg),
    accuracy_positive = ratio(acc.pos_correct, acc.pos),
    accuracy_negative = ratio(acc.neg_correct, acc.neg),
    recall = ratio(acc.pos_pass, acc.pos), fpr = ratio(acc.neg_pass, acc.neg),
    threshold = self.threshold,
    box_iou = ratio(acc.iou_sum, acc.n_box), box_iou_positive = ratio(acc.iou_pos_sum, acc.pos),
    landmark_error = ratio(acc.lmk_err, acc.n_lmk), landmark_nme = ratio(acc.nme_sum, acc.n_nme),
    samples = self.total, positives = acc.pos, negatives = acc.neg,
    part = acc.n_box - acc.pos, landmark_faces = self.counts.landmark,
    seconds = sys.clock() - t0,
  }
end

function Validator:close()
  for _, f in ipairs(self.handles) do f:close() end
  self.handles = {}
end

Validator.__close = Validator.close

return validate

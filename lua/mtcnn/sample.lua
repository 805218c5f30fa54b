-- mtcnn.sample: MTCNN training crops, cut in C (docs/design.md, 'Sample generation' and
-- 'Landmark samples').
--
--   local sample = require "mtcnn.sample"
--   local r = sample.detection(img, faces, {size = 12, seed = 7})
--   -- r.count samples: r.images (a 12 x count*12 strip), r.labels (1 pos, 0 neg,
--   -- -1 part), r.boxes (crops, inclusive), r.targets, r.iou, r.faces, r.counts
--   local l = sample.landmarks(img, box, points, {size = 48, seed = 7})
--   -- label -2, r.landmarks planar (x1..x5, y1..y5) normalised to the crop
--   local h = sample.windows(img, faces, windows, {size = 24})
--   -- hard examples: the detector's windows squared, rounded and labelled by IoU;
--   -- h.windows counts those skipped (small, outside) and dropped (between, neg_over)
--   local w = sample.landmark_windows(img, faces, points, windows, {size = 48})
--   -- landmark samples framed by the detector's windows; w.windows also counts the
--   -- windows too far from every face (far), cutting a point off (points), over the cap (over)
--
-- Every parameter (sample.defaults()) can be given by name in the options;
-- unknown names are an error. seed = n (or generator = g) makes a run
-- reproducible. See runtime/data/mt_sample.h for the meaning of each parameter.

local core = require "mtcnn.core"
local image = require "mtcnn.image"

local C = core.sample
local M = {}

M.defaults = C.defaults

--- sample.detection(img, faces [, opts]) -> result (see the header)
function M.detection(img, faces, opts)
  return C.detection(img, faces, opts)
end

--- sample.landmarks(img, box, points [, opts]) -> result
function M.landmarks(img, box, points, opts)
  return C.landmarks(img, box, points, opts)
end

--- sample.windows(img, faces, windows [, opts]) -> result: hard examples (docs/design.md,
--- 'Hard examples'); opts: size, method, neg_iou, part_iou, pos_iou, win_min_side, win_neg_max,
--- win_face_min_side.
function M.windows(img, faces, windows, opts)
  return C.windows(img, faces, windows, opts)
end

--- sample.landmark_windows(img, faces, points, windows [, opts]) -> result: landmark samples
--- framed as the cascade frames faces (docs/design.md, 'Landmark windows'): each window
--- overlapping a face by at least win_lmk_iou, its points inside, becomes a landmark sample of
--- that face (at most win_lmk_max per face); points: a row of 10 planar numbers per face.
function M.landmark_windows(img, faces, points, windows, opts)
  return C.landmark_windows(img, faces, points, windows, opts)
end

--- sample.images(result) -> list of the result's samples as separate images
function M.images(result)
  return image.split_strip(result.images, result.size)
end

--- sample.reconstruct(result, i) -> the face box that sample i's target
--- points at (calibrating its crop with its target); for checks and pictures.
function M.reconstruct(result, i)
  local b = result.boxes[i]
  local t = result.targets[i]
  local w, h = b[3] - b[1] + 1, b[4] - b[2] + 1
  return {b[1] + t[1] * w, b[2] + t[2] * h, b[3] + t[3] * w, b[4] + t[4] * h}
end

return M

-- mtcnn.box: box geometry shared by sample generation and detection.
--
--   local box = require "mtcnn.box"
--   box.iou({0, 0, 9, 9}, {{5, 5, 14, 14}})           --> {25 / 175}
--   local keep = box.nms(boxes, 0.7, "union")          -- 1-based indices, in score order
--   local sq = box.square(boxes, "rerec")              -- the original's rerec
--   local cal = box.calibrate(boxes, reg, {plus_one = false, square = "rerec", fix = true})
--
-- Boxes are 0-based, inclusive [x1, y1, x2, y2] (docs/design.md, 'Pixels and boxes'); areas
-- and intersections use the +1 convention. Every function accepts an [N, K]
-- tensor (K >= 4, extra columns carried along), a table of rows, or where one
-- box is meant a single row, and answers in the same form. The C functions
-- (lua/bind/lmt_box.c over runtime/detect/mt_box.c) compute in double.

local core = require "mtcnn.core"

return core.box

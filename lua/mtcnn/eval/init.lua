-- mtcnn.eval: the evaluation protocols (docs/design.md, 'Evaluation') and their inputs.
--
--   local eval = require "mtcnn.eval"
--   eval.mat          MAT-file (level 5) reader: eval.mat.read(path)
--   eval.predictions  detections: our JSON Lines, the WIDER submission layout,
--                     FDDB rectangle files; writing the submission layout
--   eval.wider        WIDER FACE easy/medium/hard AP (official eval_tools)
--   eval.fddb         FDDB discrete and continuous ROC (evaluate.cpp)
--   eval.landmarks    5-point landmark error (NME, failures, misses, CED)
--   eval.stage        one cascade stage on its own: recall and candidates per image
--   eval.plot         PR, ROC and CED pictures through gnuplot
--   eval.results      saving and loading result files, the --compare lists
--   eval.report       the options and output shared by the evaluation scripts
--   eval.imagesize    width and height from a JPEG or PNG header
--
-- Submodules load on first access, like the fields of require "mtcnn".

return require("mtcnn.lazy")("mtcnn.eval.", {
  "mat", "predictions", "wider", "fddb", "landmarks", "stage", "plot", "results", "report", "imagesize",
})

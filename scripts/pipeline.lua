-- pipeline.lua: the whole training recipe in one resumable command (docs/training.md, 'Train
-- the whole cascade'): the seed's 17 steps, from WIDER FACE and the landmark set to a model
-- folder of the three nets, then its WIDER FACE AP and landmark error beside the original's.
--   mtcnn scripts/pipeline.lua --wider ../shared/data/wider --landmarks ../shared/data/landmarks \
--     --work work                      # run it again after a kill: it continues
--   mtcnn scripts/pipeline.lua ... --tiny            # a few dozen images, a few epochs
--   mtcnn scripts/pipeline.lua ... --config my.lua   # {pnet = {train = {epochs = 20}}, ...}
--   mtcnn scripts/pipeline.lua ... --from rnet-train # train RNet and ONet again
-- The module is mtcnn.pipeline (lua/mtcnn/pipeline.lua).
require("mtcnn.pipeline").main(arg)

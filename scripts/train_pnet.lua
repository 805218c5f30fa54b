-- train_pnet.lua: trains PNet (docs/design.md, "Training") from record files.
--   mtcnn scripts/train_pnet.lua --train work/pnet/train.rec \
--     --val work/pnet/detection/val.rec,work/pnet/landmark/val.rec --out work/pnet/model
--   mtcnn scripts/train_pnet.lua --out work/pnet/model --resume     # after a kill
-- Every training setting (lua/mtcnn/config/pnet.lua, section "train") is a flag (--epochs 20,
-- --lr 0.01), or --set train.KEY=VALUE, or in a --config FILE. The trainer is mtcnn.train
-- (lua/mtcnn/train/); docs/training.md describes the outputs.
require("mtcnn.train.cli").main("pnet", arg)

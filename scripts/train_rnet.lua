-- train_rnet.lua: trains RNet (docs/design.md, "Training") from a merge folder of 24x24 samples.
--   mtcnn scripts/train_rnet.lua --train work/rnet/train \
--     --val work/rnet/hard/val.rec,work/rnet/landmark/val.rec --out work/rnet/model \
--     --previous work/pnet/model          # the model folder then holds PNet and RNet
--   mtcnn scripts/train_rnet.lua --out work/rnet/model --resume     # after a kill
-- Batches of 64 positives, 64 part faces, 192 negatives and 64 landmark faces from the
-- folder's class files (merge_records.lua --net rnet). Every training setting
-- (lua/mtcnn/config/rnet.lua over pnet.lua, section "train") is a flag (--epochs 20),
-- --set train.KEY=VALUE, or in a --config FILE; docs/training.md describes the outputs.
require("mtcnn.train.cli").main("rnet", arg)

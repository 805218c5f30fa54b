-- train_onet.lua: trains ONet (docs/design.md, "Training") from a merge folder of 48x48 samples.
--   mtcnn scripts/train_onet.lua --train work/onet/train \
--     --val work/onet/hard/val.rec,work/onet/landmark/val.rec --out work/onet/model \
--     --previous work/rnet/model          # the model folder then holds the whole cascade
--   mtcnn scripts/train_onet.lua --out work/onet/model --resume     # after a kill
-- Batches of 64 positives, 64 part faces, 192 negatives and 64 landmark faces from the
-- folder's class files (merge_records.lua --net onet), the landmark loss weighted 1.0 and
-- dropout 0.25 before the last hidden PReLU. Every training setting (lua/mtcnn/config/onet.lua
-- over pnet.lua, section "train") is a flag, --set train.KEY=VALUE, or in a --config FILE.
require("mtcnn.train.cli").main("onet", arg)

-- gen_pnet_data.lua: PNet's 12x12 detection samples from WIDER FACE (docs/design.md,
-- 'Sample generation').
--   mtcnn scripts/gen_pnet_data.lua --annotations wider_face_train_bbx_gt.txt \
--     --images WIDER_train/images --out work/pnet/detection
-- Random and near-face negatives, positives and part faces of every present image, decoded and
-- sampled on all cores, written to OUT/train.rec and OUT/val.rec (images held out by a hash of
-- their name and the seed), with OUT/config.lua (the settings used), OUT/state.json (for
-- --resume) and OUT/summary.json. Every sampling number comes from the "detection" section of
-- the PNet config (lua/mtcnn/config/pnet.lua): change it with its flags (--neg-iou 0.25),
-- --config FILE or --set KEY=VALUE.

require("mtcnn.gen").main(arg, "detection")

-- gen_hard_examples.lua: RNet's or ONet's detection samples mined with the trained earlier
-- stages (docs/design.md, 'Hard examples').
--   mtcnn scripts/gen_hard_examples.lua --stage rnet --model work/pnet/model \
--     --annotations wider_face_train_bbx_gt.txt --images WIDER_train/images --out work/rnet/hard
-- PNet (--stage rnet) or PNet + RNet (--stage onet) of the model folder run over every present
-- image; each window they keep is squared, rounded, cut, resized to 24x24 or 48x48 and labelled
-- by its IoU with the image's faces, written to OUT/train.rec and OUT/val.rec (the images held
-- out for the PNet samples of the same seed), with OUT/config.lua, OUT/state.json (for --resume)
-- and OUT/summary.json (per-class counts, the earlier stage's recall). Every mining number comes
-- from the "hard" section of the stage's config (lua/mtcnn/config/pnet.lua): --preset
-- seed|original, its flags (--hard-pnet-threshold 0.6), --config FILE or --set KEY=VALUE.

require("mtcnn.hard").main(arg)

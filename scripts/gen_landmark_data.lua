-- gen_landmark_data.lua: landmark samples (docs/design.md, 'Landmark samples', the seed's
-- bugs fixed) for PNet (--size 12), RNet (24) or ONet (48).
--   mtcnn scripts/gen_landmark_data.lua --size 12 --annotations trainImageList.txt \
--     --images landmarks --out work/pnet/landmark
-- For every face of the list (Windows paths and line ends accepted; lines whose image is
-- missing are skipped with a count): the plain face crop and shifted crops with their mirrored
-- and rotated copies, decoded and sampled on all cores, written to OUT/train.rec and
-- OUT/val.rec (images held out by a hash of their name and the seed), with OUT/config.lua,
-- OUT/state.json (for --resume) and OUT/summary.json. The numbers come from the "landmark"
-- section of the stage's config (and side_lo, side_hi, jitter, method, val_fraction of its
-- "detection" section): flags (--lmk-angle 10), --config FILE or --set KEY=VALUE.

require("mtcnn.gen").main(arg, "landmarks")

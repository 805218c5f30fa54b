-- custom_pnet_data.lua: PNet samples with sampling settings of one's own, from a Lua script that
-- requires the modules (the third way to customise, beside flags and --config files).
--
--   mtcnn examples/custom_pnet_data.lua WIDER_ROOT OUT [LIMIT]
--   mtcnn examples/custom_pnet_data.lua ../shared/data/wider /tmp/custom 20
--
-- WIDER_ROOT holds wider_face_split/wider_face_train_bbx_gt.txt and WIDER_train/images. The
-- script starts from the PNet stage's settings (lua/mtcnn/config/pnet.lua), makes negatives
-- stricter and positives looser, asks for more random negatives per image, generates the
-- samples of the first LIMIT images (all by default) and writes what it used to OUT/config.lua,
-- a file that scripts/gen_pnet_data.lua --config takes to repeat the run.

local mtcnn = require "mtcnn"
local config = require "mtcnn.config"
local gen = require "mtcnn.gen"

local root, out, limit = arg[1], arg[2], tonumber(arg[3])
if not root or not out then
  io.stderr:write("usage: mtcnn examples/custom_pnet_data.lua WIDER_ROOT OUT [LIMIT]\n")
  os.exit(2)
end

local cfg = config.defaults("pnet")
cfg.detection.neg_iou = 0.25   -- a negative overlaps every face by less than 0.25
cfg.detection.pos_iou = 0.6    -- a positive needs an IoU of 0.6 (0.65 in the original recipe)
cfg.detection.neg_count = 100  -- twice the random negatives per image
cfg.detection.val_fraction = 0.1

local entries, stats = mtcnn.data.read_wider(
  root .. "/wider_face_split/wider_face_train_bbx_gt.txt", {images = root .. "/WIDER_train/images"})
if not entries then
  io.stderr:write(stats, "\n")
  os.exit(1)
end

local summary, err = gen.run{
  kind = "detection", entries = entries, out = out, params = config.sample_params(cfg),
  val_fraction = cfg.detection.val_fraction, seed = 7, limit = limit, force = true,
  listed = stats.listed, missing = stats.missing, stage = "pnet",
}
if not summary then
  io.stderr:write(err, "\n")
  os.exit(1)
end
assert(config.write(cfg, out .. "/config.lua", "pnet", "examples/custom_pnet_data.lua"))
for _, line in ipairs(gen.summary_lines(summary)) do print(line) end

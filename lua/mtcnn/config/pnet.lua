-- The PNet stage's settings: every number of sample generation, merging and training, with
-- its default (the original recipe, docs/design.md) and what it means. A script takes them
-- in this order, later ones winning: these defaults, a --config FILE (a Lua file returning
-- a table such as {train = {epochs = 20}}, or a flat {epochs = 20}), the flags named after
-- each key (--neg-iou 0.25, --lmk-angle 10, --epochs 20), and --set key=value
-- (--set train.lr=0.01). What a run used is written next to its outputs (config.lua).
--
-- Each entry is {key, default, help [, check]}; check is "prob" (a number in [0, 1]),
-- "count" (an integer >= 0), "positive" (a number > 0), "all_or_count", "all_or_number"
-- ("all" or such a number), a list of allowed strings, or absent (the default's type only). Keys are unique over all sections, so that each has
-- one flag. rnet.lua and onet.lua start from this table and change a few defaults.

return {
  stage = "pnet",
  sections = {
    {name = "detection", script = "gen_pnet_data.lua",
     help = "detection samples: random and near-face negatives, positives and part faces",
     entries = {
       {"size", 12, "side of the samples in pixels", "positive"},
       {"neg_count", 50, "random negatives accepted per image", "count"},
       {"neg_max_tries", 5000, "random negative draws per image before giving up (small or crowded images)", "count"},
       {"min_crop", 12, "smallest side of a negative crop in pixels", "positive"},
       {"neg_max_frac", 0.5, "random negative sides are below this fraction of the image's shorter side", "prob"},
       {"neg_iou", 0.3, "a crop is a negative when its largest IoU with any face is below this", "prob"},
       {"min_face", 20, "faces whose longer side is below this (pixels) seed no crops", "positive"},
       {"near_neg_tries", 5, "near-face negative draws per face", "count"},
       {"pos_tries", 20, "positive / part-face draws per face", "count"},
       {"side_lo", 0.8, "crop sides start at this times the face's shorter side", "positive"},
       {"side_hi", 1.25, "crop sides stay below this times the face's longer side", "positive"},
       {"jitter", 0.2, "centre shift of a crop, as a fraction of the face's width / height", "prob"},
       {"pos_iou", 0.65, "a crop is a positive when its IoU is at least this", "prob"},
       {"part_iou", 0.4, "a crop is a part face when its IoU lies in [part_iou, pos_iou)", "prob"},
       {"label_by_all_faces", true, "label and target a crop by its best face (false: the face that seeded it, as the seed did)"},
       {"mirror_p", 0.0, "probability of storing a positive / part sample mirrored (targets mirrored too); training mirrors on the fly", "prob"},
       {"method", "bilinear", "resizing of crops", {"bilinear", "area"}},
       {"val_fraction", 0.1, "share of the source images held out for validation (all their samples)", "prob"},
     }},
    {name = "landmark", script = "gen_landmark_data.lua",
     help = "landmark samples: the face crop and shifted crops with mirror and rotation",
     entries = {
       {"lmk_min_face", 40, "faces whose longer side is below this (pixels) are skipped", "positive"},
       {"lmk_plain", true, "keep the plain ground-truth crop of each face"},
       {"lmk_shift_tries", 10, "shifted crops tried per face", "count"},
       {"lmk_iou", 0.65, "a shifted crop is kept when its IoU with the face is above this", "prob"},
       {"lmk_mirror_p", 0.5, "probability of adding the mirrored copy of a kept crop", "prob"},
       {"lmk_rotate_p", 0.5, "probability of adding each rotated copy (+angle, -angle) of a kept crop", "prob"},
       {"lmk_angle", 5.0, "rotation in degrees", "positive"},
     }},
    {name = "landmark_windows", script = "gen_hard_examples.lua --landmarks",
     help = "landmark windows: the trained earlier stages run over the landmark images and each window that frames a face becomes a landmark sample of it, framed as the cascade will frame faces for this stage (the sample side and val_fraction come from detection; the other detector settings from hard)",
     entries = {
       {"lmk_window_pnet_threshold", 0.6, "PNet's face threshold (the detector's default)", "prob"},
       {"lmk_window_rnet_threshold", 0.7, "RNet's face threshold (the detector's default)", "prob"},
       {"lmk_window_iou", 0.4, "a window whose IoU with a face is at least this becomes a landmark sample of that face (when its five points lie inside it)", "prob"},
       {"lmk_window_max", 10, "landmark samples kept per face: the first such windows in the detector's order (highest scores first)", "count"},
     }},
    {name = "hard", script = "gen_hard_examples.lua",
     help = "hard examples for RNet (24x24) and ONet (48x48): the windows that the trained earlier stages keep on the training images, labelled by IoU (the sample side and val_fraction come from detection)",
     -- gen_hard_examples.lua --preset NAME starts from one of these instead of the defaults
     -- (flags, --config and --set still win): "seed" is the defaults (the TensorFlow seed's
     -- gen_hard_example.py), "original" the settings of Seanlinx/mtcnn's miner, which the
     -- original authors' advice follows (docs/design.md, 'Hard examples')
     presets = {
       seed = {},
       original = {hard_pnet_threshold = 0.6, hard_rnet_threshold = 0.7, hard_min_face = 24},
     },
     entries = {
       {"hard_pnet_threshold", 0.3, "PNet's face threshold while mining (windows scoring at least this go on)", "prob"},
       {"hard_rnet_threshold", 0.1, "RNet's face threshold while mining ONet's data (windows scoring above this go on)", "prob"},
       {"hard_min_face", 20, "smallest face the detector looks for, in pixels (the pyramid's first scale is 12 / this)", "positive"},
       {"hard_factor", 0.79, "pyramid scale step, in (0, 1)", "prob"},
       {"hard_nms_level", 0.5, "NMS overlap (IoU) within each pyramid level", "prob"},
       {"hard_nms_image", 0.7, "NMS overlap (IoU) across the levels of an image", "prob"},
       {"hard_nms_rnet", 0.7, "NMS overlap (IoU) after RNet", "prob"},
       {"hard_resize", "area", "resizing of the pyramid levels and of RNet's crops in the detector", {"area", "bilinear"}},
       {"hard_min_side", 20, "windows narrower than this once squared and rounded are skipped (pixels)", "positive"},
       {"hard_face_min_side", 0, "positives and part faces narrower than this are dropped, so that the windows between hard_min_side and this give negatives only (pixels; 0: no limit but hard_min_side)", "count"},
       {"hard_neg_max", 60, "negatives kept per image: the first ones in the detector's order (highest scores first)", "count"},
       {"hard_neg_iou", 0.3, "a window is a negative when its largest IoU with any face is below this", "prob"},
       {"hard_part_iou", 0.4, "a window is a part face when its largest IoU lies in [hard_part_iou, hard_pos_iou)", "prob"},
       {"hard_pos_iou", 0.65, "a window is a positive when its largest IoU is at least this", "prob"},
       {"hard_method", "bilinear", "resizing of the windows' crops to the sample side", {"bilinear", "area"}},
     }},
    {name = "merge", script = "merge_records.lua",
     help = "the training set: how many samples of each class are drawn (without replacement)",
     entries = {
       {"base", 250000, "samples per unit of ratio", "count"},
       {"ratio_positive", 1.0, "positives drawn: base * this, or \"all\" (all when fewer exist)", "all_or_number"},
       {"ratio_part", 1.0, "part faces drawn: base * this, or \"all\"", "all_or_number"},
       {"ratio_negative", 3.0, "negatives drawn: base * this, or \"all\"", "all_or_number"},
       {"landmark_count", "all", "landmark faces drawn: \"all\" or a count", "all_or_count"},
     }},
    {name = "train", script = "train_pnet.lua",
     help = "training: loss, optimiser, schedule, augmentation, validation",
     entries = {
       {"epochs", 30, "passes over the training set", "positive"},
       {"init", "", "start from the weights of this net file (.mtn), or of this stage's net in this model folder or bundled model (\"ours\", \"original\"), instead of random ones (\"\": random, from the seed), and fine-tune them with the other training settings"},
       {"batch", 384, "samples per step", "positive"},
       {"stratified", false, "batches of fixed composition (64 positives, 64 part, 192 negatives, 64 landmarks per 384) instead of a shuffled pool"},
       {"lr", 1e-3, "base learning rate", "positive"},
       {"lr_epochs", {6, 14, 20}, "epochs after which the rate is multiplied by lr_factor"},
       {"lr_factor", 0.1, "learning-rate step factor", "positive"},
       {"lr_warmup", 0, "steps over which the rate rises linearly to lr at the start (0: none): lets a high rate or a large task weight start without diverging", "count"},
       {"optimizer", "sgd", "optimiser", {"sgd", "adam"}},
       {"momentum", 0.9, "SGD momentum", "prob"},
       {"weight_decay", 5e-4, "L2 on convolution kernels: wd/2 * sum ||W||^2", "prob"},
       {"cls_weight", 1.0, "weight of the classification loss", "nonneg"},
       {"box_weight", 0.5, "weight of the box regression loss", "nonneg"},
       {"landmark_weight", 0.5, "weight of the landmark loss", "nonneg"},
       {"ohem", 0.7, "share of the largest classification losses kept (online hard example mining)", "prob"},
       {"landmarks", true, "train a landmark head"},
       {"mirror", 0.5, "probability of mirroring positives and landmark faces in a batch (targets mirrored)", "prob"},
       {"mirror_part", false, "mirror part faces too"},
       {"color_jitter", false, "colour jitter per sample (brightness, contrast, saturation, hue)"},
       {"dropout", 0.25, "dropout before ONet's last hidden PReLU (ONet only)", "prob"},
       {"threshold", 0.6, "the stage's face threshold, for the validation recall", "prob"},
       {"log_every", 10, "steps between lines of the per-step log", "positive"},
       {"checkpoint_every", 1000, "steps between checkpoints inside an epoch (0: only at the end of each epoch)", "count"},
       {"loader_workers", 0, "background threads making batches ahead of the training step (0: none; the next batch is made by the kernel threads between the jobs of the step, and what is left of it on the training thread)", "count"},
     }},
  },
}

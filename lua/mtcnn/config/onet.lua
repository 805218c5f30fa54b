-- The ONet stage's settings: PNet's (pnet.lua, every key documented there) with these
-- defaults changed. ONet trains on 48x48 samples in batches of fixed composition and weighs
-- the landmark loss as much as the classification.
return {
  stage = "onet",
  base = "pnet",
  defaults = {
    size = 48,
    epochs = 22,
    stratified = true,
    ratio_positive = "all", -- every sample of each class, one file per class
    ratio_part = "all",
    ratio_negative = "all",
    landmark_weight = 1.0,
    threshold = 0.7,
  },
}

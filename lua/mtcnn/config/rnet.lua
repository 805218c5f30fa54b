-- The RNet stage's settings: PNet's (pnet.lua, every key documented there) with these
-- defaults changed. RNet trains on 24x24 samples in batches of fixed composition.
return {
  stage = "rnet",
  base = "pnet",
  defaults = {
    size = 24,
    epochs = 22,
    stratified = true,
    ratio_positive = "all", -- every sample of each class, one file per class
    ratio_part = "all",
    ratio_negative = "all",
    threshold = 0.7,
  },
}

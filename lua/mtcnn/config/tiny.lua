-- The settings of `mtcnn scripts/pipeline.lua --tiny` (a pipeline --config file: see
-- docs/training.md, 'Train the whole cascade'): the whole recipe on a few dozen WIDER images
-- and a few hundred landmark faces in a few minutes, for CI (spec/pipeline_spec.lua) and for
-- trying the pipeline out. The nets it makes find faces only on images like their own.
return {
  data = {
    wider_images = 40,    -- the first 40 WIDER train images present (about 1,500 faces)
    landmark_faces = 300, -- the first 300 faces of the landmark list present
  },
  eval = {
    wider_images = 4,     -- the first 4 WIDER val images
    landmark_faces = 50,  -- the first 50 faces of the landmark test list
  },
  -- few epochs at ten times the rate, stepped down near the end; PNet's epochs are cheap and a
  -- better PNet leaves fewer windows to mine
  pnet = {train = {epochs = 20, lr = 0.01, lr_epochs = {14, 18}}},
  -- (RNet learns its few hundred positives slowly: at 0.01 it still calls every window a
  -- negative after 8 epochs)
  rnet = {train = {epochs = 10, lr = 0.03, lr_epochs = {7, 9}}},
  onet = {train = {epochs = 6, lr = 0.01, lr_epochs = {4, 5}}},
}

-- walkthrough.lua: a tour of the library, written to be typed or pasted into the mtcnn REPL
-- line by line: load a picture, detect its face, draw the result, align the face, evaluate the
-- detector on a few WIDER FACE validation images, and train a tiny PNet for a few steps.
--
--   mtcnn                                         then paste the lines below, a section at a time
--   mtcnn examples/walkthrough.lua [OUT [WIDER]]  the same, run as a script
--   mtcnn -i < examples/walkthrough.lua           the same, fed to the REPL line by line
--
-- OUT is the folder for the pictures, the tiny training's records and its model
-- (/tmp/mtcnn-walkthrough by default). WIDER is a WIDER FACE folder in the official layout
-- (WIDER_val/images, wider_face_split/wider_face_val_bbx_gt.txt, eval_tools/ground_truth; by
-- default data/wider of the specs' shared data folder, MTCNN_SHARED); without one the evaluation
-- says so and is skipped. In the REPL, set OUT or WIDER before pasting (OUT = "/tmp/mine").
--
-- Globals, not locals: the REPL runs each complete statement as a chunk of its own, and a
-- `local` would be gone by the next line. So that any line can be pasted on its own, this file
-- uses globals (the project's scripts and modules keep to locals). For the same reason no
-- statement here ends on a line that the next line continues. In the REPL, typing a name such
-- as `faces` prints its value; in a script that line would be an error, so the file prints with
-- mtcnn.repl.show, which is what the REPL uses.

mtcnn = require "mtcnn"   -- the REPL has it already; a script needs it
RUN_AS_SCRIPT = arg ~= nil and arg[0] ~= nil and arg[0]:match("walkthrough%.lua$") ~= nil
OUT = RUN_AS_SCRIPT and arg[1] or OUT or "/tmp/mtcnn-walkthrough"
SHARED = os.getenv("MTCNN_SHARED") or mtcnn.home .. "/../shared"
WIDER = RUN_AS_SCRIPT and arg[2] or WIDER or SHARED .. "/data/wider"
assert(mtcnn.sys.mkdir(OUT))

-- ---- 1. Load a picture and detect ------------------------------------------------------------

img = assert(mtcnn.image.load(mtcnn.home .. "/examples/astronaut.png"))
print(("image: %d x %d"):format(img.width, img.height))

-- The bundled model (the original MTCNN weights) with the original release's settings:
-- min face 20 px, scale factor 0.709, thresholds 0.6 / 0.7 / 0.7. help(mtcnn.detector) lists
-- every option.
det = mtcnn.detector.new()
faces = det:detect(img)
print(("faces: %d"):format(#faces))
mtcnn.repl.show(faces)

-- Boxes are {x1, y1, x2, y2} in 0-based pixels (x2, y2 inclusive); landmarks are five {x, y}
-- points: left eye, right eye, nose, left and right mouth corner.
for i, f in ipairs(faces) do
  print(("face %d: box %.1f %.1f %.1f %.1f score %.6f"):format(i, f.box[1], f.box[2], f.box[3],
    f.box[4], f.score))
  for _, name in ipairs({"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}) do
    local p = mtcnn.faces.named_landmarks(f)[name]
    print(("  %-11s %6.1f %6.1f"):format(name, p[1], p[2]))
  end
end
print(("detection took %.1f ms"):format(det.stats.image_ms[1]))

-- ---- 2. Draw ---------------------------------------------------------------------------------

-- detector.draw returns an annotated copy: boxes, scores and landmarks. The image's own
-- drawing calls (draw_rect, draw_point, draw_text, ...) add more.
pic = mtcnn.detector.draw(img, faces)
pic:draw_text(8, img.height - 24, "MTCNN WALKTHROUGH", {color = "white", scale = 2})
assert(pic:save(OUT .. "/astronaut_faces.png"))
print(("drawn: %s (%d x %d)"):format(OUT .. "/astronaut_faces.png", pic.width, pic.height))

-- ---- 3. Align --------------------------------------------------------------------------------

-- align_face maps the five points onto the 112 x 112 template of face recognisers with the
-- closest rotation + scale + shift, and returns the crop and that matrix.
face = faces[1]
aligned, matrix = img:align_face(face.landmarks, {size = 112})
assert(aligned:save(OUT .. "/astronaut_aligned.png"))
print(("aligned: %s (%d x %d)"):format(OUT .. "/astronaut_aligned.png", aligned.width,
  aligned.height))

-- Where the face's points land in the crop, against the template: a few pixels off, since a
-- similarity cannot fit five points exactly (this face is turned a little).
moved = mtcnn.image.transform_points(matrix, face.landmarks)
template = mtcnn.image.alignment_template(112)
off = 0
for k = 1, 5 do
  off = off + math.sqrt((moved[k][1] - template[k][1]) ^ 2 + (moved[k][2] - template[k][2]) ^ 2) / 5
end
print(("aligned points: %.2f px from the template on average"):format(off))

-- The same crops for every face at once, as one tensor ready for a recognition net.
batch = det:crops(img, {size = 112, mode = "aligned"})
print(("crops: %s"):format(table.concat(batch:size(), " x ")))

-- ---- 4. Evaluate on a few WIDER FACE validation images ----------------------------------------

-- The official protocol (easy / medium / hard AP, mtcnn.eval.wider) on the first 8 validation
-- images present under WIDER, in the annotation file's order (as the pipeline's evaluation
-- takes them), with exact overlaps (iou = "official" repeats the MATLAB tool's int32
-- arithmetic). Eight crowded pictures say little about a detector: `mtcnn detect --json` and
-- `mtcnn eval wider` on the whole set are the real measure (docs/evaluation.md).
N_EVAL = 8
VAL_GT = WIDER .. "/wider_face_split/wider_face_val_bbx_gt.txt"
HAVE_WIDER = (mtcnn.sys.stat(VAL_GT) ~= nil and mtcnn.sys.stat(WIDER .. "/WIDER_val/images") ~= nil
  and mtcnn.eval.wider.find_gt_dir(WIDER) ~= nil)
if not HAVE_WIDER then
  print(("evaluation skipped: no WIDER FACE validation data under %s (give its folder as WIDER)")
    :format(WIDER))
end

if HAVE_WIDER then
  gt = assert(mtcnn.eval.wider.load_gt(WIDER))
  entries = assert(mtcnn.data.read_wider(VAL_GT, {images = WIDER .. "/WIDER_val/images"}))
  preds, chosen = {}, {}
  for i = 1, math.min(N_EVAL, #entries) do
    local key = mtcnn.eval.predictions.key(entries[i].path, 2) -- "EVENT/NAME": the protocol's name
    local boxes = {}
    for _, f in ipairs(det:detect(entries[i].path)) do
      local x, y, w, h = mtcnn.eval.predictions.xywh(f.box)
      boxes[#boxes + 1] = {x, y, w, h, f.score}
    end
    preds[key], chosen[key] = boxes, true
  end
  result = mtcnn.eval.wider.evaluate(gt, preds, {images = chosen, iou = "exact"})
  print(("WIDER val, %d images: AP easy %.4f medium %.4f hard %.4f (%d / %d / %d faces)"):format(
    result.images,
    result.settings.easy.ap, result.settings.medium.ap, result.settings.hard.ap,
    result.settings.easy.faces, result.settings.medium.faces, result.settings.hard.faces))
end

-- ---- 5. Train a tiny PNet --------------------------------------------------------------------

-- Training samples cut from this one picture around the face found above: 12 x 12 positives,
-- part faces and negatives (mtcnn.sample.detection), and landmark faces shifted, rotated and
-- mirrored (mtcnn.sample.landmarks), written to a record file as the pipeline writes them.
-- A real PNet sees hundreds of thousands of samples from thousands of pictures
-- (scripts/pipeline.lua, docs/training.md); this one only shows the pieces at work.
REC = OUT .. "/tiny_pnet.rec"
points = {}   -- the samplers take the five points planar: x1..x5, then y1..y5
for k, p in ipairs(face.landmarks) do points[k], points[5 + k] = p[1], p[2] end
writer = assert(mtcnn.record.writer(REC, {size = 12, replace = true}))
for seed = 1, 20 do
  local detection = mtcnn.sample.detection(img, {face.box}, {size = 12, seed = seed})
  local landmarks = mtcnn.sample.landmarks(img, face.box, points, {size = 12, seed = seed})
  assert(writer:add_samples(detection, "astronaut.png"))
  assert(writer:add_samples(landmarks, "astronaut.png"))
end
assert(writer:close())
rec = assert(mtcnn.record.open(REC))
print(("samples: %d"):format(rec.count))
mtcnn.repl.show(rec:counts())
rec:close()

-- The net, the multi-task loss (classification with online hard example mining, box and
-- landmark regression), an optimiser, and a loader making shuffled, mirrored batches of 64 on a
-- background thread. optim.train_step does one step: forward, loss, backward, update.
mtcnn.tensor.manual_seed(1)   -- with the seeds below: the same losses on every run
net = mtcnn.models.pnet{seed = 1}
loss_fn = mtcnn.nn.MTCNNLoss{net = "pnet"}
params, grads = net:parameters()
opt = mtcnn.optim.Adam(params, grads, {lr = 0.003})
step = mtcnn.optim.train_step(net, loss_fn, opt)
batches = assert(mtcnn.loader.new{net = "pnet", files = REC, batch = 64, seed = 1})

-- The loss over every sample of the file (no mining, no augmentation), before and after.
train = require "mtcnn.train"   -- the trainer behind scripts/train_pnet.lua (not a field of mtcnn)
check = assert(train.validate.new{stage = "pnet", files = REC, threshold = 0.6})
before = check:run(net)
print(("tiny pnet: before training, loss %.4f accuracy %.3f"):format(before.loss, before.accuracy))

STEPS = 150
for i = 1, STEPS do
  local b = assert(batches:next())
  local loss = step(b.images, b.target)
  if i % 25 == 0 then print(("step %3d: batch loss %.4f"):format(i, loss)) end
end
after = check:run(net)
print(("tiny pnet: after %d steps, loss %.4f accuracy %.3f"):format(STEPS, after.loss,
  after.accuracy))
print(("tiny pnet: loss %.4f -> %.4f"):format(before.loss, after.loss))

-- Saved as a model folder, the net runs as the detector's first stage (stages = 1: PNet's
-- windows after its NMS, calibrated by its box outputs). Trained on one picture for seconds, it
-- fires on much besides the face; the window overlapping the face most shows what it learnt.
-- (write_model's manifest tells the detector how the project's nets decode; its licence line is
-- the one of nets trained on WIDER FACE, while this one saw only the public-domain picture.)
MODEL = OUT .. "/tiny_model"
assert(mtcnn.sys.mkdir(MODEL))
assert(train.write_model(MODEL, "pnet", net, {note = "examples/walkthrough.lua, one picture"}))
tiny = mtcnn.detector.new{model = MODEL, stages = 1}
windows = tiny:detect(img)
boxes = {}
for k, w in ipairs(windows) do boxes[k] = w.box end
best = 0
for _, v in ipairs(#boxes > 0 and mtcnn.box.iou(face.box, boxes) or {}) do
  best = math.max(best, v)
end
print(("tiny pnet as a detector: %d windows, the best overlaps the face with IoU %.2f"):format(
  #windows, best))

-- Closing frees the loader's thread and the files (the collector would, later).
batches:close()
check:close()
print("walkthrough done")

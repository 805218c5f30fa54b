-- The MTCNN multi-task loss (docs/design.md, 'Losses and OHEM') on hand-computed cases: OHEM
-- selection, label masks, task weights, the empty-set guards, accuracy, the plain
-- configuration, and the L2 penalty on conv kernels only.
local helper = require "helper"
local mtcnn = require "mtcnn"
local T = mtcnn.tensor
local nn = mtcnn.nn

local function outputs(p1, boxes, lmks)
  local cls = {}
  for i, p in ipairs(p1) do cls[i] = {1 - p, p} end
  return {cls = T.tensor(cls), box = T.tensor(boxes), landmarks = T.tensor(lmks)}
end

local Z4, Z10 = {0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

describe("MTCNNLoss", function()
  it("computes each task under its label mask, weighted", function()
    -- labels: positive, negative, part, landmark
    local out = outputs({0.8, 0.4, 0.5, 0.5},
      {{0.1, 0, 0, 0}, {9, 9, 9, 9}, {0, 0.2, 0, 0}, {9, 9, 9, 9}},
      {Z10, Z10, Z10, {0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0}})
    local target = {label = T.tensor{1, 0, -1, -2}, box = T.zeros(4, 4),
                    landmarks = T.zeros(4, 10)}
    local crit = nn.MTCNNLoss{cls = 1, box = 0.5, landmarks = 0.5, ohem = 1}
    local loss = crit:forward(out, target)
    local s = crit.stats
    helper.near(s.cls, (-math.log(0.8) - math.log(0.6)) / 2, 1e-6, "cls")
    helper.near(s.box, (0.01 + 0.04) / 2, 1e-6, "box over positive and part")
    helper.near(s.landmarks, 0.25, 1e-6, "landmarks over the landmark sample")
    helper.near(loss, s.cls + 0.5 * s.box + 0.5 * s.landmarks, 1e-6, "weighted total")
    assert.are.equal(1, s.accuracy)
    assert.are.same({2, 2, 2, 1}, {s.n_cls, s.n_kept, s.n_box, s.n_landmarks})
    -- gradients: box 2 w (pred - target) / n_box, only on masked rows
    local g = crit:backward(out, target)
    helper.near(g.box:get(1, 1), 2 * 0.5 * 0.1 / 2, 1e-7)
    assert.are.equal(0, g.box:get(2, 1))
    assert.are.equal(0, g.landmarks:get(1, 1))
    helper.near(g.landmarks:get(4, 1), 2 * 0.5 * 0.5 / 1, 1e-7)
    helper.near(g.cls:get(1, 2), -1 / (2 * 0.8), 1e-6)
    assert.are.equal(0, g.cls:get(1, 1))
  end)

  it("keeps the top 70% of classification losses (OHEM)", function()
    -- 10 negatives with face probabilities 0.05 .. 0.5: losses -log(1 - p)
    local ps = {}
    for i = 1, 10 do ps[i] = 0.05 * i end
    local out = outputs(ps, {}, {})
    out.box, out.landmarks = nil, nil
    local crit = nn.MTCNNLoss{ohem = 0.7}
    crit:forward(out, {label = T.zeros(10)})
    assert.are.equal(7, crit.stats.n_kept) -- floor(0.7 * 10), computed as TF does in float
    local want = 0
    for i = 4, 10 do want = want - math.log(1 - 0.05 * i) end
    helper.near(crit.stats.cls, want / 7, 1e-6)
    local g = crit:backward(out, {label = T.zeros(10)})
    for i = 1, 3 do assert.are.equal(0, g.cls:get(i, 1)) end
    for i = 4, 10 do helper.near(g.cls:get(i, 1), -1 / (7 * (1 - 0.05 * i)), 1e-6) end
    -- 384 valid samples keep floor(0.7 * 384) = 268
    crit:forward({cls = T.full(384, 2, 0.5)}, {label = T.zeros(384)})
    assert.are.equal(268, crit.stats.n_kept)
  end)

  it("guards empty sets: a missing task contributes 0, never NaN", function()
    local out = outputs({0.3, 0.9}, {Z4, Z4}, {Z10, Z10})
    local crit = nn.MTCNNLoss{}
    -- only part faces: no classification, no landmarks
    local loss = crit:forward(out, {label = T.tensor{-1, -1}, box = T.ones(2, 4),
                                    landmarks = T.zeros(2, 10)})
    assert.are.equal(0, crit.stats.cls)
    assert.are.equal(0, crit.stats.landmarks)
    assert.are.equal(0, crit.stats.n_cls)
    assert.is_true(crit.stats.accuracy ~= crit.stats.accuracy, "accuracy is NaN without samples")
    helper.near(loss, 0.5 * 4, 1e-6)
    local g = crit:backward(out, {label = T.tensor{-1, -1}})
    assert.is_true(g.cls:abs():sum() == 0)
    -- one valid sample: floor(0.7 * 1) = 0 kept, still 0
    loss = crit:forward({cls = out.cls}, {label = T.tensor{1, -2}})
    assert.are.equal(0, crit.stats.n_kept)
    assert.are.equal(0, loss)
  end)

  it("accuracy is the argmax accuracy on positives and negatives", function()
    local out = outputs({0.9, 0.2, 0.6, 0.4, 0.99}, {}, {})
    local crit = nn.MTCNNLoss{ohem = 1}
    crit:forward({cls = out.cls}, {label = T.tensor{1, 0, 0, 1, -1}})
    helper.near(crit.stats.accuracy, 0.5, 1e-12)
    assert.are.equal(2, crit.stats.n_correct)
  end)

  it("plain configuration: every sample in every task, element means", function()
    local out = outputs({0.8, 0.4}, {{1, 0, 0, 0}, {0, 0, 0, 0}}, {Z10, Z10})
    local crit = nn.MTCNNLoss{ohem = 1, masked = false, reduction = "element", box = 0.5}
    crit:forward(out, {label = T.tensor{1, 0}, box = T.zeros(2, 4), landmarks = T.zeros(2, 10)})
    helper.near(crit.stats.box, 1 / 8, 1e-7)
    assert.are.equal(2, crit.stats.n_box)
    assert.has_error(function()
      crit:forward(out, {label = T.tensor{1, -1}, box = T.zeros(2, 4)})
    end, "mtcnn_loss: unmasked loss needs labels 0 or 1, sample 2 has -1")
  end)

  it("rejects bad labels, shapes and options", function()
    local crit = nn.MTCNNLoss{}
    assert.has_error(function() crit:forward({cls = T.full(2, 2, 0.5)}, {label = T.tensor{1, 3}}) end,
      "mtcnn_loss: sample 2 has label 3 (expected 1 positive, 0 negative, -1 part, -2 landmark)")
    assert.has_error(function() crit:forward({cls = T.full(2, 3, 0.5)}, {label = T.tensor{1, 0}}) end,
      "mtcnn_loss: the classification output must be 2x2 (or 2x2x1x1), got 2x3")
    assert.has_error(function() nn.MTCNNLoss{ohem = 0} end)
    -- PNet's [N,2,1,1] outputs are accepted as they are
    crit:forward({cls = T.full(3, 2, 1, 1, 0.5)}, {label = T.tensor{1, 0, 1}})
    assert.are.same({3, 2, 1, 1}, crit:backward({cls = T.full(3, 2, 1, 1, 0.5)},
      {label = T.tensor{1, 0, 1}}).cls:size())
  end)

  it("penalty: L2 weight decay on conv kernels only", function()
    local net = mtcnn.models.rnet{seed = 1}
    net:zero_grad()
    local crit = nn.MTCNNLoss{weight_decay = 5e-4}
    local value = crit:penalty(net)
    local want = 0
    for _, e in ipairs(net:named_parameters()) do
      if e.name:match("^conv%d%.weight$") then
        want = want + 0.5 * 5e-4 * (e.tensor * e.tensor):sum()
        helper.tensor_near(e.grad, e.tensor * 5e-4, 1e-9, e.name)
      else
        assert.are.equal(0, e.grad:abs():sum(), e.name .. " gets no decay")
      end
    end
    helper.near(value, want, 1e-7 * want)
    assert.are.equal(0, nn.MTCNNLoss{weight_decay = 0}:penalty(net))
  end)
end)

-- Optimisers (SGD with momentum, weight decay and Nesterov; Adam) against hand-computed
-- updates, and the learning-rate schedules.
local helper = require "helper"
local mtcnn = require "mtcnn"
local T = mtcnn.tensor
local optim = mtcnn.optim

describe("optim", function()
  it("SGD without momentum: p -= lr (g + wd p)", function()
    local p, g = T.tensor{1, -2}, T.tensor{0.5, 0.5}
    local opt = optim.SGD({p}, {g}, {lr = 0.1, weight_decay = 0.01})
    opt:step()
    helper.near(p:get(1), 1 - 0.1 * (0.5 + 0.01), 1e-7)
    helper.near(p:get(2), -2 - 0.1 * (0.5 - 0.02), 1e-7)
  end)

  it("SGD with momentum 0.9 (Torch/TF semantics), per-parameter decay", function()
    local p, g = T.tensor{1}, T.tensor{2}
    local q, gq = T.tensor{1}, T.tensor{2}
    local opt = optim.SGD({p, q}, {g, gq}, {lr = 0.01, momentum = 0.9, weight_decay = {0, 0.5}})
    opt:step()  -- buf = g
    helper.near(p:get(1), 1 - 0.01 * 2, 1e-7)
    opt:step()  -- buf = 0.9 * 2 + 2
    helper.near(p:get(1), 1 - 0.02 - 0.01 * 3.8, 1e-6)
    -- q decays: g' = 2 + 0.5 q
    local q1 = 1 - 0.01 * 2.5
    local buf = 2 + 0.5 * q1 + 0.9 * 2.5
    helper.near(q:get(1), q1 - 0.01 * buf, 1e-6)
    assert.are.equal(2, opt.step_count)
  end)

  it("SGD with Nesterov momentum", function()
    local p, g = T.tensor{0}, T.tensor{1}
    local opt = optim.SGD({p}, {g}, {lr = 0.1, momentum = 0.5, nesterov = true})
    opt:step() -- buf = 1, step g + 0.5 buf = 1.5
    helper.near(p:get(1), -0.15, 1e-7)
    opt:step() -- buf = 0.5 + 1 = 1.5, step 1 + 0.75
    helper.near(p:get(1), -0.15 - 0.175, 1e-7)
  end)

  it("Adam: the first step moves each weight by about lr against its gradient", function()
    local p, g = T.tensor{1, 1}, T.tensor{3, -0.001}
    local opt = optim.Adam({p}, {g}, {lr = 0.01})
    opt:step()
    helper.near(p:get(1), 0.99, 1e-6)
    helper.near(p:get(2), 1 + 0.01 * 0.001 / (0.001 + 1e-8), 1e-6)
    -- second step, same gradient: m/(1-b1^2) = g, v/(1-b2^2) = g^2
    opt:step()
    helper.near(p:get(1), 0.98, 1e-6)
  end)

  it("follows a schedule given as lr", function()
    local sched = optim.schedule.piecewise{base = 1, boundaries = {2, 4}, factor = 0.1}
    local p, g = T.tensor{0}, T.tensor{1}
    local opt = optim.SGD({p}, {g}, {lr = sched})
    local lrs = {}
    for i = 1, 5 do lrs[i] = opt:step() end
    helper.near(lrs[1], 1, 0); helper.near(lrs[2], 1, 0)
    helper.near(lrs[3], 0.1, 1e-12); helper.near(lrs[5], 0.01, 1e-12)
    helper.near(p:get(1), -(1 + 1 + 0.1 + 0.1 + 0.01), 1e-6)
  end)

  it("warms a piecewise schedule up linearly over its first steps", function()
    local w = optim.schedule.piecewise{base = 0.1, boundaries = {6}, factor = 0.1, warmup = 4}
    helper.near(w(1), 0.025, 1e-15)
    helper.near(w(2), 0.05, 1e-15)
    helper.near(w(3), 0.075, 1e-15)
    helper.near(w(4), 0.1, 1e-15)
    helper.near(w(6), 0.1, 1e-15)
    helper.near(w(7), 0.01, 1e-15)
    -- no warm-up is the plain schedule
    local plain = optim.schedule.piecewise{base = 0.1, boundaries = {6}, factor = 0.1}
    helper.near(plain(1), 0.1, 0)
    assert.has_error(function() optim.schedule.piecewise{base = 0.1, warmup = -1} end)
  end)

  it("schedules: MTCNN piecewise (x0.1 at epochs 6, 14, 20) and cosine", function()
    local m = optim.schedule.mtcnn{base = 1e-3, steps_per_epoch = 10}
    helper.near(m(60), 1e-3, 1e-15)
    helper.near(m(61), 1e-4, 1e-15)
    helper.near(m(141), 1e-5, 1e-16)
    helper.near(m(201), 1e-6, 1e-17)
    local c = optim.schedule.cosine{base = 1, total = 100, min = 0.1, warmup = 10}
    helper.near(c(5), 0.5, 1e-12)
    helper.near(c(10), 1, 1e-12)
    helper.near(c(55), 0.1 + 0.9 * 0.5, 1e-9)
    helper.near(c(100), 0.1, 1e-12)
    helper.near(c(500), 0.1, 1e-12)
  end)

  it("rejects mismatched lists and shapes", function()
    assert.has_error(function() optim.SGD({T.zeros(2)}, {}, {lr = 1}) end)
    local opt = optim.SGD({T.zeros(2)}, {T.zeros(3)}, {lr = 1, momentum = 0.9})
    assert.has_error(function() opt:step() end, "sgd_step: parameter 1: shape mismatch: 2 and 3")
    assert.has_error(function() optim.SGD({T.zeros(1)}, {T.zeros(1)}, {}) end)
  end)
end)

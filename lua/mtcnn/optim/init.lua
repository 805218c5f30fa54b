-- mtcnn.optim: optimisers over parameter lists, and learning-rate schedules.
--
--   local optim = require "mtcnn.optim"
--   local params, grads = net:parameters()
--   local opt = optim.SGD(params, grads, {lr = 1e-3, momentum = 0.9})
--   opt:step()                       -- one update of every parameter, in C
--   local sched = optim.schedule.piecewise{base = 1e-3, boundaries = {600, 1400}, factor = 0.1}
--   local opt2 = optim.SGD(params, grads, {lr = sched, momentum = 0.9})
--   local step = optim.train_step(net, nn.MTCNNLoss{net = "pnet"}, opt)  -- step(x, target)
--   net:to("cuda"); opt:to("cuda")  -- the parameters move in place, the state follows
--
-- lr is a number or a function(step) -> number (step counts from 1). weight_decay is a
-- number for every parameter or a list with one number per parameter (L2 added to the
-- gradient, as torch.optim). The state (momentum, Adam's moments) lives in tensors made once.

local core = require "mtcnn.core"
local T = require "mtcnn.tensor"

local C = core.optim

local optim = {}

local function check_lists(params, grads, who)
  if type(params) ~= "table" or type(grads) ~= "table" or #params ~= #grads then
    error(who .. ": expected two lists of tensors of the same length (params, grads)", 3)
  end
  for i = 1, #params do
    if not T.is_tensor(params[i]) or not T.is_tensor(grads[i]) then
      error(("%s: entry %d of the lists is not a tensor"):format(who, i), 3)
    end
  end
end

local function zeros_like(t)
  local z = T.zeros(t:size())
  if t:is_cuda() then z = z:cuda() end
  return z
end

-- A class of optimisers: step([lr]) counts the step, takes lr (else the configured rate or
-- schedule at this step) and hands it to update(self, lr), the C update; to(device) moves
-- the parameters, gradients and the state lists named in `state` in place (tensor:move_),
-- keeping their values: a net moved with net:to(device) already moved the first two.
local function optimiser(update, state)
  local cls = {}
  cls.__index = cls
  function cls:to(device)
    local lists = {self.params, self.grads}
    for _, name in ipairs(state) do lists[#lists + 1] = self[name] end
    for _, l in ipairs(lists) do
      for _, t in ipairs(l) do t:move_(device) end
    end
    return self
  end
  function cls:step(lr)
    self.step_count = self.step_count + 1
    if lr == nil then
      lr = self.lr
      if type(lr) == "function" then lr = lr(self.step_count) end
    end
    self.last_lr = lr
    update(self, lr)
    return lr
  end
  return cls
end

-- ---- SGD ----------------------------------------------------------------------------------

local SGD = optimiser(function(self, lr)
  C.sgd_step(self.params, self.grads, self.bufs, lr, self.momentum, self.dampening,
    self.weight_decay, self.nesterov, self.step_count == 1)
end, {"bufs"})

--- optim.SGD(params, grads, {lr, momentum = 0, dampening = 0, weight_decay = 0,
---   nesterov = false}) -> optimiser with :step([lr]) and .step_count
function optim.SGD(params, grads, opts)
  check_lists(params, grads, "SGD")
  opts = opts or {}
  if opts.lr == nil then error("SGD: lr is required", 2) end
  local self = setmetatable({
    params = params, grads = grads, lr = opts.lr, momentum = opts.momentum or 0,
    dampening = opts.dampening or 0, weight_decay = opts.weight_decay or 0,
    nesterov = opts.nesterov or false, step_count = 0, bufs = {},
  }, SGD)
  if self.nesterov and (self.momentum <= 0 or self.dampening ~= 0) then
    error("SGD: nesterov needs momentum > 0 and no dampening", 2)
  end
  if self.momentum > 0 then
    for i, p in ipairs(params) do self.bufs[i] = zeros_like(p) end
  end
  return self
end

-- ---- Adam ---------------------------------------------------------------------------------

local Adam = optimiser(function(self, lr)
  C.adam_step(self.params, self.grads, self.m, self.v, lr, self.beta1, self.beta2, self.eps,
    self.weight_decay, self.step_count)
end, {"m", "v"})

--- optim.Adam(params, grads, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
---   weight_decay = 0}) -> optimiser with :step([lr])
function optim.Adam(params, grads, opts)
  check_lists(params, grads, "Adam")
  opts = opts or {}
  local betas = opts.betas or {0.9, 0.999}
  local self = setmetatable({
    params = params, grads = grads, lr = opts.lr or 1e-3, beta1 = betas[1], beta2 = betas[2],
    eps = opts.eps or 1e-8, weight_decay = opts.weight_decay or 0, step_count = 0, m = {}, v = {},
  }, Adam)
  for i, p in ipairs(params) do
    self.m[i], self.v[i] = zeros_like(p), zeros_like(p)
  end
  return self
end

-- ---- a training step ----------------------------------------------------------------------

--- optim.train_step(net, criterion, optimiser) -> function(x, target [, lr]) -> loss, penalty:
--- one step of training (zero the gradients, forward, loss, backward, the criterion's penalty
--- when it has one, such as MTCNNLoss's L2 on conv kernels, and the update, at lr when given).
function optim.train_step(net, criterion, opt)
  local penalty = criterion.penalty
  return function(x, target, lr)
    net:zero_grad()
    local out = net:forward(x)
    local loss = criterion:forward(out, target)
    net:backward(x, criterion:backward(out, target))
    local l2 = penalty and criterion:penalty(net) or 0
    opt:step(lr)
    return loss, l2
  end
end

-- ---- schedules ----------------------------------------------------------------------------

optim.schedule = {}

--- schedule.piecewise{base, boundaries = {s1, s2, ...}, factor = 0.1, warmup = 0} -> f(step):
--- base up to step s1, base * factor after s1, base * factor^2 after s2, ...; with warmup,
--- the rate of the first `warmup` steps is scaled by step / warmup (a linear rise).
function optim.schedule.piecewise(o)
  assert(type(o.base) == "number", "piecewise: base learning rate required")
  local bounds, factor, warmup = o.boundaries or {}, o.factor or 0.1, o.warmup or 0
  for i = 2, #bounds do
    assert(bounds[i] > bounds[i - 1], "piecewise: boundaries must increase")
  end
  assert(type(warmup) == "number" and warmup >= 0,
    "piecewise: warmup must be a count of steps >= 0")
  return function(step)
    local lr = o.base
    for _, b in ipairs(bounds) do
      if step > b then lr = lr * factor end
    end
    if step < warmup then lr = lr * math.max(step, 1) / warmup end
    return lr
  end
end

--- schedule.mtcnn{base = 1e-3, steps_per_epoch, epochs = {6, 14, 20}} -> f(step): the seed's
--- schedule, x0.1 after each listed epoch (docs/design.md, 'Optimiser and schedule').
function optim.schedule.mtcnn(o)
  assert(type(o.steps_per_epoch) == "number" and o.steps_per_epoch > 0,
    "mtcnn schedule: steps_per_epoch required")
  local bounds = {}
  for i, e in ipairs(o.epochs or {6, 14, 20}) do bounds[i] = e * o.steps_per_epoch end
  return optim.schedule.piecewise{base = o.base or 1e-3, boundaries = bounds, factor = 0.1}
end

--- schedule.cosine{base, total, min = 0, warmup = 0} -> f(step): linear warm-up over `warmup`
--- steps, then half a cosine from base down to min at step `total` (min afterwards).
function optim.schedule.cosine(o)
  assert(type(o.base) == "number" and type(o.total) == "number" and o.total > 0,
    "cosine: base and total required")
  local min, warm = o.min or 0, o.warmup or 0
  return function(step)
    if warm > 0 and step <= warm then return o.base * step / warm end
    local t = (step - warm) / math.max(1, o.total - warm)
    if t >= 1 then return min end
    return min + (o.base - min) * 0.5 * (1 + math.cos(math.pi * t))
  end
end

return optim

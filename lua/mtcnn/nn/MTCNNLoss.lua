-- mtcnn.nn.MTCNNLoss: the multi-task loss of MTCNN (docs/design.md, 'Losses and OHEM').
--
--   local crit = nn.MTCNNLoss{cls = 1, box = 0.5, landmarks = 0.5}   -- PNet/RNet weights
--   local loss = crit:forward(out, target)   -- out: {cls =, box =, landmarks =}
--   local grads = crit:backward(out, target) -- {cls =, box =, landmarks =}: for net:backward
--   local l2 = crit:penalty(net)             -- L2 on conv kernels: value, and grads += wd W
--
-- target = {label = [N], box = [N,4], landmarks = [N,10]}; labels 1 positive, 0 negative,
-- -1 part face, -2 landmark face. Classification: -log(p_label + 1e-10) on positives and
-- negatives, of which the largest floor(ohem * count) are kept (online hard example mining)
-- and averaged. Box: squared error summed over the 4 coordinates, averaged over positives and
-- part faces. Landmarks: summed over 10 coordinates, averaged over landmark faces. A task with
-- no sample in the batch contributes 0 (never NaN).
--
-- Options: cls, box, landmarks (task weights: 1, 0.5, 0.5; ONet uses landmarks = 1),
-- ohem (0.7; 1 keeps every sample), weight_decay (5e-4: L2 = wd/2 * sum ||W_conv||^2, see
-- penalty), masked (true; false: plain multi-task loss where every sample counts in every
-- task and labels are 0 or 1), reduction ("sample": MTCNN's; "element": mean over elements,
-- as torch's mse_loss).
--
-- After forward, crit.stats holds loss, cls, box, landmarks (the unweighted task losses),
-- accuracy (argmax accuracy on positives and negatives, NaN without any), n_cls, n_kept,
-- n_box, n_landmarks, n_correct.

local core = require "mtcnn.core"
local T = require "mtcnn.tensor"
local class = require "mtcnn.nn.class"
local util = require "mtcnn.nn.util"

local C = core.nn

local MTCNNLoss = class("nn.MTCNNLoss")

local PRESETS = {
  pnet = {cls = 1, box = 0.5, landmarks = 0.5},
  rnet = {cls = 1, box = 0.5, landmarks = 0.5},
  onet = {cls = 1, box = 0.5, landmarks = 1},
}

function MTCNNLoss:init(opts)
  opts = opts or {}
  local preset = opts.net and PRESETS[opts.net]
  if opts.net and not preset then error("MTCNNLoss: unknown net " .. tostring(opts.net), 2) end
  preset = preset or PRESETS.pnet
  self.w_cls = opts.cls or preset.cls
  self.w_box = opts.box or preset.box
  self.w_lmk = opts.landmarks or preset.landmarks
  self.ohem = opts.ohem or 0.7
  if type(self.ohem) ~= "number" or self.ohem <= 0 or self.ohem > 1 then
    error(("MTCNNLoss: ohem must lie in (0, 1], got %s"):format(tostring(opts.ohem)), 2)
  end
  self.weight_decay = opts.weight_decay or 5e-4
  self.masked = opts.masked ~= false
  local reduction = opts.reduction or "sample"
  if reduction ~= "sample" and reduction ~= "element" then
    error("MTCNNLoss: reduction must be 'sample' or 'element', got " .. tostring(reduction), 2)
  end
  self.element_mean = reduction == "element"
  self.grad = {}
  self.dcls, self.dbox, self.dlmk = util.buffer(), util.buffer(), util.buffer()
  self.stats = {}
end

local function field(t, key, pos)
  local v = t[key]
  if v == nil then v = t[pos] end
  return v
end

function MTCNNLoss:forward(out, target)
  if type(out) ~= "table" or type(target) ~= "table" then
    error("MTCNNLoss:forward(out, target): both must be tables", 2)
  end
  local cls, box, lmk = field(out, "cls", 1), field(out, "box", 2), field(out, "landmarks", 3)
  if target.label == nil then error("MTCNNLoss: target.label is missing", 2) end
  if box ~= nil and target.box == nil then box = nil end
  if lmk ~= nil and target.landmarks == nil then lmk = nil end
  if T.is_tensor(cls) and cls:device() ~= self.dcls:device() then self:to(cls:device()) end
  local loss, lc, lb, ll, acc, n_cls, n_kept, n_box, n_lmk, n_correct = C.mtcnn_loss(
    cls, box, lmk, target.label, target.box, target.landmarks,
    self.dcls, box and self.dbox, lmk and self.dlmk,
    self.w_cls, self.w_box, self.w_lmk, self.ohem, self.masked, self.element_mean)
  local s = self.stats
  s.loss, s.cls, s.box, s.landmarks, s.accuracy = loss, lc, lb, ll, acc
  s.n_cls, s.n_kept, s.n_box, s.n_landmarks, s.n_correct = n_cls, n_kept, n_box, n_lmk, n_correct
  local g = self.grad
  g.cls, g.box, g.landmarks = self.dcls, box and self.dbox or nil, lmk and self.dlmk or nil
  g[1], g[2], g[3] = g.cls, g.box, g.landmarks
  self.last_out, self.last_target = out, target
  return loss
end

--- crit:to(device) -> crit: its gradient buffers on device (forward also moves them to its
--- inputs' device by itself).
function MTCNNLoss:to(device)
  self.dcls, self.dbox, self.dlmk = util.buffer(device), util.buffer(device), util.buffer(device)
  return self
end

-- The gradients w.r.t. the head outputs (computed by forward on the same arguments).
function MTCNNLoss:backward(out, target)
  if out ~= self.last_out or target ~= self.last_target then self:forward(out, target) end
  return self.grad
end

-- L2 weight decay on the conv kernels of net: returns wd/2 * sum ||W||^2 and adds wd * W to
-- their gradients (call after backward). With weight_decay = 0 it returns 0.
function MTCNNLoss:penalty(net)
  if self.weight_decay == 0 then return 0 end
  if self.decay_net ~= net then
    local ps, gs = {}, {}
    for _, e in ipairs(net:named_parameters()) do
      if e.kind == "conv_weight" then
        ps[#ps + 1], gs[#gs + 1] = e.tensor, e.grad
      end
    end
    self.decay_net, self.decay_params, self.decay_grads = net, ps, gs
  end
  return core.optim.l2_penalty(self.decay_params, self.decay_grads, self.weight_decay)
end

function MTCNNLoss:__tostring()
  return ("nn.MTCNNLoss(cls %g, box %g, landmarks %g, ohem %g, L2 %g%s%s)"):format(
    self.w_cls, self.w_box, self.w_lmk, self.ohem, self.weight_decay,
    self.masked and "" or ", unmasked", self.element_mean and ", element mean" or "")
end

return MTCNNLoss

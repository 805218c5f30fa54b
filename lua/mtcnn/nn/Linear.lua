-- mtcnn.nn.Linear: fully connected layer y = x w^T + b over a batch; an NCHW input is
-- flattened per sample in (c, h, w) order. Xavier (Glorot uniform) weights, zero biases.
--
--   nn.Linear(in, out [, opts])   opts: bias (true), generator
--
-- Fields: weight [out,in], bias [out], grad_weight, grad_bias, output [N,out], grad_input
-- (shaped like the input).

local C = require("mtcnn.core").nn
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local Linear = Module:extend("nn.Linear")
Linear.weight_kind = "linear_weight"

function Linear:init(nin, nout, opts)
  opts = opts or {}
  self.in_features = util.check_int(nin, "Linear: input features")
  self.out_features = util.check_int(nout, "Linear: output features")
  util.weight_and_bias(self, opts, nout, nin)
  self:reset(opts.generator)
  self.output = util.buffer()
  self.grad_input = util.buffer()
end

function Linear:reset(generator)
  return util.xavier(self, self.in_features + self.out_features, generator)
end

function Linear:update_output(x)
  return C.linear_forward(x, self.weight, self.bias, self.output)
end

function Linear:forward_fused(x, slopes)
  return C.linear_forward(x, self.weight, self.bias, self.output, slopes)
end

function Linear:update_grad_input(x, gy)
  local gi = util.grad_input(self)
  if gi == nil then return nil end
  return C.linear_backward_input(gy, self.weight, gi, x)
end

function Linear:acc_grad_parameters(x, gy)
  C.linear_backward_params(x, gy, self.grad_weight, self.grad_bias)
end

function Linear:describe()
  return ("nn.Linear(%d -> %d%s)"):format(self.in_features, self.out_features,
    self.bias and "" or ", no bias")
end

return Linear

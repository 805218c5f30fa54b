-- mtcnn.nn.Linear: fully connected layer y = x w^T + b over a batch; an NCHW input is
-- flattened per sample in (c, h, w) order. Xavier (Glorot uniform) weights, zero biases.
--
--   nn.Linear(in, out [, opts])   opts: bias (true), generator
--
-- Fields: weight [out,in], bias [out], grad_weight, grad_bias, output [N,out], grad_input
-- (shaped like the input).

local core = require "mtcnn.core"
local T = require "mtcnn.tensor"
local class = require "mtcnn.nn.class"
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local C = core.nn

local Linear = class("nn.Linear", Module)

function Linear:init(nin, nout, opts)
  Module.init(self)
  opts = opts or {}
  self.in_features = util.check_int(nin, "Linear: input features")
  self.out_features = util.check_int(nout, "Linear: output features")
  self.weight = T.empty(nout, nin)
  self.grad_weight = T.zeros(nout, nin)
  if opts.bias ~= false then
    self.bias = T.zeros(nout)
    self.grad_bias = T.zeros(nout)
  end
  self:reset(opts.generator)
  self.output = util.buffer()
  self.grad_input = util.buffer()
end

function Linear:reset(generator)
  local a = math.sqrt(6 / (self.in_features + self.out_features))
  self.weight:uniform_(-a, a, generator)
  if self.bias then self.bias:zero_() end
  return self
end

function Linear:update_output(x)
  return C.linear_forward(x, self.weight, self.bias, self.output)
end

function Linear:forward_fused(x, slopes)
  return C.linear_forward(x, self.weight, self.bias, self.output, slopes)
end

function Linear:update_grad_input(x, gy)
  if self.skip_input_grad then
    self.grad_input = nil
    return nil
  end
  if self.grad_input == nil then self.grad_input = util.buffer() end
  return C.linear_backward_input(gy, self.weight, self.grad_input, x)
end

function Linear:acc_grad_parameters(x, gy)
  C.linear_backward_params(x, gy, self.grad_weight, self.grad_bias)
end

function Linear:param_list()
  local l = {{"weight", self.weight, self.grad_weight, "linear_weight"}}
  if self.bias then l[2] = {"bias", self.bias, self.grad_bias, "bias"} end
  return l
end

function Linear:to(device)
  self._grad_list = nil
  util.move_fields(self, device)
  return self
end

function Linear:describe()
  return ("nn.Linear(%d -> %d%s)"):format(self.in_features, self.out_features,
    self.bias and "" or ", no bias")
end

return Linear

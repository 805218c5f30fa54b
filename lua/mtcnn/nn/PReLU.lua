-- mtcnn.nn.PReLU: parametric ReLU with one learnable slope per channel (dimension 2 of an
-- [N,C] or [N,C,H,W] input): y = max(x, 0) + a_c min(x, 0). Slopes start at 0.25.
--
--   nn.PReLU(channels [, init = 0.25])

local core = require "mtcnn.core"
local T = require "mtcnn.tensor"
local class = require "mtcnn.nn.class"
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local C = core.nn

local PReLU = class("nn.PReLU", Module)

function PReLU:init(channels, init)
  Module.init(self)
  self.channels = util.check_int(channels, "PReLU: channels")
  self.init_slope = init or 0.25
  self.weight = T.full(channels, self.init_slope)
  self.grad_weight = T.zeros(channels)
  -- its own output buffer: in a fused pass self.output is the previous layer's output
  self.out_buf = util.buffer()
  self.output = self.out_buf
  self.grad_input = util.buffer()
  self.fusable_prelu = true -- a preceding Conv2d or Linear may apply it (nn.Sequential)
end

function PReLU:reset()
  self.weight:fill_(self.init_slope)
  return self
end

function PReLU:update_output(x)
  self.output = C.prelu_forward(x, self.weight, self.out_buf)
  return self.output
end

function PReLU:backward(x, gy)
  if self.grad_input == nil then self.grad_input = util.buffer() end
  return C.prelu_backward(x, self.weight, gy, self.grad_input, self.grad_weight)
end

function PReLU:update_grad_input(x, gy)
  if self.grad_input == nil then self.grad_input = util.buffer() end
  return C.prelu_backward(x, self.weight, gy, self.grad_input, nil)
end

function PReLU:acc_grad_parameters(x, gy)
  C.prelu_backward(x, self.weight, gy, nil, self.grad_weight)
end

function PReLU:param_list()
  return {{"weight", self.weight, self.grad_weight, "prelu"}}
end

function PReLU:to(device)
  self._grad_list = nil
  util.move_fields(self, device)
  return self
end

function PReLU:describe()
  return ("nn.PReLU(%d)"):format(self.channels)
end

return PReLU

-- mtcnn.nn.Softmax: softmax over the channels (dimension 2) of an [N,C] input, or at every
-- position of an [N,C,H,W] feature map (the fully convolutional PNet).

local core = require "mtcnn.core"
local class = require "mtcnn.nn.class"
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local C = core.nn

local Softmax = class("nn.Softmax", Module)

function Softmax:init()
  Module.init(self)
  self.output = util.buffer()
  self.grad_input = util.buffer()
end

function Softmax:update_output(x)
  return C.softmax_forward(x, self.output)
end

function Softmax:update_grad_input(_, gy)
  return C.softmax_backward(self.output, gy, self.grad_input)
end

function Softmax:to(device)
  self._grad_list = nil
  util.move_fields(self, device)
  return self
end

function Softmax:describe()
  return "nn.Softmax(channels)"
end

return Softmax

-- mtcnn.nn.Softmax: softmax over the channels (dimension 2) of an [N,C] input, or at every
-- position of an [N,C,H,W] feature map (the fully convolutional PNet).

local C = require("mtcnn.core").nn
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local Softmax = Module:extend("nn.Softmax")

function Softmax:init()
  self.output = util.buffer()
  self.grad_input = util.buffer()
end

function Softmax:update_output(x)
  return C.softmax_forward(x, self.output)
end

function Softmax:update_grad_input(_, gy)
  return C.softmax_backward(self.output, gy, self.grad_input)
end

function Softmax:describe()
  return "nn.Softmax(channels)"
end

return Softmax

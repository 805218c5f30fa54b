-- mtcnn.nn.MaxPool2d: max pooling over NCHW batches with Caffe's ceil-mode output size,
-- ceil((in - k) / s) + 1 (windows past the edge are clipped), as the original MTCNN.
--
--   nn.MaxPool2d(k [, stride = k])     k, stride: numbers or {h, w}

local C = require("mtcnn.core").nn
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local MaxPool2d = Module:extend("nn.MaxPool2d")

function MaxPool2d:init(k, stride)
  self.kh, self.kw = util.pair(k, "MaxPool2d: kernel size")
  self.sh, self.sw = util.pair(stride or k, "MaxPool2d: stride")
  self.output = util.buffer()
  self.grad_input = util.buffer()
  self.fusable_pool = true -- a preceding Conv2d + PReLU may compute it (nn.Sequential)
  self.argmax = util.buffer() -- training's PReLU + pooling pass: the maxima's positions
end

function MaxPool2d:update_output(x)
  return C.maxpool2d_forward(x, self.output, self.kh, self.kw, self.sh, self.sw)
end

-- The backward pass compares each window with its maximum from the last forward pass
-- (self.output, when it has the output's shape), which must have been on x (as Torch's nn
-- assumes); without one it searches each window again.
function MaxPool2d:update_grad_input(x, gy)
  local y = self.output
  if y:dim() ~= 4 or y:numel() ~= gy:numel() then y = nil end
  return C.maxpool2d_backward(x, gy, self.grad_input, self.kh, self.kw, self.sh, self.sw, y)
end

function MaxPool2d:describe()
  return ("nn.MaxPool2d(%dx%d, stride %dx%d, ceil)"):format(self.kh, self.kw, self.sh, self.sw)
end

return MaxPool2d

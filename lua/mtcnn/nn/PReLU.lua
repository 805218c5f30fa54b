-- mtcnn.nn.PReLU: parametric ReLU with one learnable slope per channel (dimension 2 of an
-- [N,C] or [N,C,H,W] input): y = max(x, 0) + a_c min(x, 0). Slopes start at 0.25.
--
--   nn.PReLU(channels [, init = 0.25])

local C = require("mtcnn.core").nn
local T = require "mtcnn.tensor"
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local PReLU = Module:extend("nn.PReLU")
PReLU.weight_kind = "prelu"

function PReLU:init(channels, init)
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

-- Training's PReLU + max pooling pair in one pass (see nn.Sequential): x is the input (a
-- convolution's output), `pool` the nn.MaxPool2d that follows; the pooled map is written into
-- the pool's output, which this module's output then is (PReLU(x) itself is not stored), and
-- the positions of the maxima into the pool's `argmax` buffer (for the backward pass).
function PReLU:forward_pooled(x, pool)
  local at = pool.argmax
  if at == nil then
    at = util.buffer(x:device())
    pool.argmax = at
  end
  local y = C.prelu_pool_forward(x, self.weight, pool.output, at, pool.kh, pool.kw, pool.sh,
    pool.sw)
  self.output = y
  return y
end

-- The pair's backward from the pooled gradient gy: the input gradient (into grad_input, when
-- want_input) and the slope gradient (accumulated, when want_params).
function PReLU:backward_pooled(x, pool, gy, want_input, want_params)
  local gi = nil
  if want_input then
    if self.grad_input == nil then self.grad_input = util.buffer(self.device) end
    gi = self.grad_input
  end
  return C.prelu_pool_backward(x, self.weight, pool.argmax, gy, gi,
    want_params and self.grad_weight or nil, pool.kh, pool.kw, pool.sh, pool.sw)
end

function PReLU:backward(x, gy)
  if self.grad_input == nil then self.grad_input = util.buffer(self.device) end
  return C.prelu_backward(x, self.weight, gy, self.grad_input, self.grad_weight)
end

function PReLU:update_grad_input(x, gy)
  if self.grad_input == nil then self.grad_input = util.buffer(self.device) end
  return C.prelu_backward(x, self.weight, gy, self.grad_input, nil)
end

function PReLU:acc_grad_parameters(x, gy)
  C.prelu_backward(x, self.weight, gy, nil, self.grad_weight)
end

function PReLU:describe()
  return ("nn.PReLU(%d)"):format(self.channels)
end

return PReLU

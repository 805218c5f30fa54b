-- mtcnn.nn.Conv2d: 2-D convolution over NCHW batches, any kernel size, stride and zero
-- padding, with Xavier (Glorot uniform) weights and zero biases.
--
--   nn.Conv2d(in, out, k [, opts])      k: size or {kh, kw}
--   opts: stride (1), pad (0) (numbers or {h, w}), bias (true), generator (T.generator)
--
-- Fields: weight [out,in,kh,kw], bias [out], grad_weight, grad_bias, output, grad_input.
-- skip_input_grad = true makes backward skip the input gradient (a net's first layer).

local C = require("mtcnn.core").nn
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local Conv2d = Module:extend("nn.Conv2d")
Conv2d.weight_kind = "conv_weight"

function Conv2d:init(cin, cout, k, opts)
  opts = opts or {}
  self.in_channels = util.check_int(cin, "Conv2d: input channels")
  self.out_channels = util.check_int(cout, "Conv2d: output channels")
  self.kh, self.kw = util.pair(k, "Conv2d: kernel size")
  self.sh, self.sw = util.pair(opts.stride or 1, "Conv2d: stride")
  self.ph, self.pw = util.pair(opts.pad or 0, "Conv2d: padding", 0)
  util.weight_and_bias(self, opts, cout, cin, self.kh, self.kw)
  self:reset(opts.generator)
  self.output = util.buffer()
  self.grad_input = util.buffer()
end

-- Xavier/Glorot uniform, the fans counted over the kernel.
function Conv2d:reset(generator)
  return util.xavier(self, (self.in_channels + self.out_channels) * self.kh * self.kw, generator)
end

function Conv2d:update_output(x)
  return C.conv2d_forward(x, self.weight, self.bias, self.output, self.sh, self.sw, self.ph, self.pw)
end

-- Convolution, bias and PReLU in one pass (evaluate mode; see nn.Sequential).
function Conv2d:forward_fused(x, slopes)
  return C.conv2d_forward(x, self.weight, self.bias, self.output, self.sh, self.sw, self.ph,
    self.pw, slopes)
end

-- Convolution, bias, PReLU and the max pooling `pool` (an nn.MaxPool2d) in one pass, written
-- into the pool's output (evaluate mode; see nn.Sequential).
function Conv2d:forward_pooled(x, slopes, pool)
  return C.conv2d_forward(x, self.weight, self.bias, pool.output, self.sh, self.sw, self.ph,
    self.pw, slopes, pool.kh, pool.kw, pool.sh, pool.sw)
end

-- Training's Conv2d -> PReLU `act` -> MaxPool2d `pool` as a first layer (skip_input_grad;
-- see nn.Sequential): this layer's and the PReLU's parameter gradients from the pooled
-- gradient gy in one pass (the PReLU's grad_input is the workspace of kernels that store the
-- convolution's output gradient).
function Conv2d:backward_params_pooled(x, act, pool, gy)
  C.conv2d_prelu_pool_backward_params(x, self.output, act.weight, pool.argmax, gy,
    act.grad_input, self.grad_weight, self.grad_bias, act.grad_weight, self.sh, self.sw,
    self.ph, self.pw, pool.kh, pool.kw, pool.sh, pool.sw)
end

function Conv2d:update_grad_input(x, gy)
  local gi = util.grad_input(self)
  if gi == nil then return nil end
  return C.conv2d_backward_input(gy, self.weight, gi, x, self.sh, self.sw, self.ph, self.pw)
end

-- Both gradients in one call (the engine expands gy once for the two); a first layer
-- (skip_input_grad) only accumulates its parameter gradients.
function Conv2d:backward(x, gy)
  local gi = util.grad_input(self)
  if gi == nil then
    self:acc_grad_parameters(x, gy)
    return nil
  end
  return C.conv2d_backward(x, gy, self.weight, gi, self.grad_weight, self.grad_bias, self.sh,
    self.sw, self.ph, self.pw)
end

function Conv2d:acc_grad_parameters(x, gy)
  C.conv2d_backward_params(x, gy, self.grad_weight, self.grad_bias, self.sh, self.sw, self.ph,
    self.pw)
end

function Conv2d:describe()
  local s = ("nn.Conv2d(%d -> %d, %dx%d"):format(self.in_channels, self.out_channels, self.kh, self.kw)
  if self.sh ~= 1 or self.sw ~= 1 then s = s .. (", stride %dx%d"):format(self.sh, self.sw) end
  if self.ph ~= 0 or self.pw ~= 0 then s = s .. (", pad %dx%d"):format(self.ph, self.pw) end
  if not self.bias then s = s .. ", no bias" end
  return s .. ")"
end

return Conv2d

-- mtcnn.nn.Dropout: in training mode zeroes each value with probability p and scales the
-- others by 1 / (1 - p) (inverted dropout, as Caffe and Torch); in evaluate mode it passes
-- its input through. The mask comes from the seeded generator (opts.generator, else the
-- default one), so a seed reproduces a run.
--
--   nn.Dropout([p = 0.5] [, opts])

local C = require("mtcnn.core").nn
local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local Dropout = Module:extend("nn.Dropout")

function Dropout:init(p, opts)
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p >= 1 then
    error(("Dropout: probability must lie in [0, 1), got %s"):format(tostring(p)), 2)
  end
  self.p = p
  self.generator = opts and opts.generator or nil
  self.mask = util.buffer()
  self.identity_in_eval = true
end

function Dropout:update_output(x)
  if not self.is_training or self.p == 0 then
    self.output = x
    return x
  end
  C.dropout_mask(self.mask, x, self.p, self.generator)
  self.out_buf = util.like(self.out_buf, x)
  self.output = self.out_buf:copy_(x):mul_(self.mask)
  return self.output
end

function Dropout:update_grad_input(_, gy)
  if not self.is_training or self.p == 0 then
    self.grad_input = gy
    return gy
  end
  self.gin_buf = util.like(self.gin_buf, gy)
  self.grad_input = self.gin_buf:copy_(gy):mul_(self.mask)
  return self.grad_input
end

function Dropout:describe()
  return ("nn.Dropout(%g, training only)"):format(self.p)
end

return Dropout

-- mtcnn.nn.util: helpers shared by the nn modules (argument checks, parameters, buffers).

local T = require "mtcnn.tensor"

local util = {}

-- A pair of positive integers from a number or an {h, w} table.
function util.pair(v, what, min)
  min = min or 1
  local h, w
  if type(v) == "table" then h, w = v[1], v[2] else h, w = v, v end
  if math.type(h) ~= "integer" or math.type(w) ~= "integer" or h < min or w < min then
    error(("%s must be an integer >= %d or a pair of them, got %s"):format(what, min, tostring(v)), 3)
  end
  return h, w
end

function util.check_int(v, what, min)
  if math.type(v) ~= "integer" or v < (min or 1) then
    error(("%s must be an integer >= %d, got %s"):format(what, min or 1, tostring(v)), 3)
  end
  return v
end

-- An empty tensor to be resized by the C layers (outputs and gradient buffers), on device
-- ("cpu" when nil): a module makes its lazy buffers on its own device (m.device).
function util.buffer(device)
  local t = T.empty(0)
  if device and device ~= "cpu" then t = t:to(device) end
  return t
end

-- A tensor shaped like `like` (reusing `t` when it already is): for Lua-side elementwise work.
function util.like(t, like)
  if t and t:numel() == like:numel() and t:dim() == like:dim() and t:device() == like:device() then
    local same = true
    for d = 1, like:dim() do
      if t:size(d) ~= like:size(d) then same = false break end
    end
    if same then return t end
  end
  local out = T.empty(like:size())
  if like:is_cuda() then out = out:cuda() end
  return out
end

-- Gives a layer its parameters: weight of the given shape and, unless opts.bias is false, a
-- bias of shape[1] values, with zeroed gradients (the values are set by reset).
function util.weight_and_bias(m, opts, ...)
  m.weight = T.empty(...)
  m.grad_weight = T.zeros(...)
  if opts.bias ~= false then
    m.bias = T.zeros((...))
    m.grad_bias = T.zeros((...))
  end
end

-- Xavier/Glorot uniform weights, U(-a, a) with a = sqrt(6 / fans) (fans: fan in + fan out),
-- and zero biases.
function util.xavier(m, fans, generator)
  local a = math.sqrt(6 / fans)
  m.weight:uniform_(-a, a, generator)
  if m.bias then m.bias:zero_() end
  return m
end

-- The input-gradient buffer of a layer (made again when a first-layer pass dropped it), or
-- nil when the layer skips its input gradient (skip_input_grad: a net's first layer).
function util.grad_input(m)
  if m.skip_input_grad then
    m.grad_input = nil
    return nil
  end
  if m.grad_input == nil then m.grad_input = util.buffer(m.device) end
  return m.grad_input
end

-- An error message without the position inside an nn module file (which says nothing to
-- the user), for containers that re-raise their children's errors.
function util.error_message(e)
  e = tostring(e)
  return (e:gsub("^[^\n:]*mtcnn/nn/[%w_]+%.lua:%d+: ", ""))
end

-- Shape as "2x3x4".
function util.shape(t)
  return table.concat(t:size(), "x")
end

return util

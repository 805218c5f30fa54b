-- Floating-point operations of a forward pass, counted from a net's layers
-- (2 per multiply-add of convolutions and fully connected layers; pooling,
-- activations and softmax are not counted). For GFLOP/s figures.

local flops = {}

-- Walks module m with an input of shape {c, h, w} (or {features}); returns
-- the FLOPs per sample and the output shape.
local function walk(m, shape)
  if m.modules then -- a container in sequence
    local total = 0
    for _, child in ipairs(m.modules) do
      local f
      f, shape = walk(child, shape)
      total = total + f
    end
    return total, shape
  elseif m.heads then -- several heads on one input
    local total = 0
    for _, h in ipairs(m.heads) do total = total + (walk(h.module, shape)) end
    return total, shape
  elseif m.in_channels then -- convolution
    local ho = (shape[2] + 2 * m.ph - m.kh) // m.sh + 1
    local wo = (shape[3] + 2 * m.pw - m.kw) // m.sw + 1
    return 2 * m.in_channels * m.kh * m.kw * m.out_channels * ho * wo, {m.out_channels, ho, wo}
  elseif m.in_features then -- fully connected (flattens its input)
    return 2 * m.in_features * m.out_features, {m.out_features}
  elseif m.kh and m.sh then -- max pooling, Caffe's ceil mode
    local ho = math.ceil((shape[2] - m.kh) / m.sh) + 1
    local wo = math.ceil((shape[3] - m.kw) / m.sw) + 1
    return 0, {shape[1], ho, wo}
  end
  return 0, shape
end

--- FLOPs of one forward pass of net on a c x h x w input.
function flops.forward(net, c, h, w)
  return (walk(net, {c, h, w}))
end

return flops

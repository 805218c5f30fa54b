-- The NN layers on a CUDA device: until the CUDA layers land (a later issue) every layer,
-- the loss and the optimisers must refuse CUDA tensors with a clear message, not crash.
local helper = require "helper"
local mtcnn = require "mtcnn"
local T, nn = mtcnn.tensor, mtcnn.nn

describe("nn on cuda #gpu", function()
  it("refuses CUDA tensors with 'not supported on cuda'", function()
    helper.need_gpu()
    local x = T.randn(2, 3, 12, 12):cuda()
    local conv = nn.Conv2d(3, 4, 3):to("cuda")
    assert.has_error(function() conv:forward(x) end, "conv2d_forward: not supported on cuda")
    assert.has_error(function() nn.PReLU(3):to("cuda"):forward(x) end,
      "prelu_forward: not supported on cuda")
    assert.has_error(function() nn.MaxPool2d(2):to("cuda"):forward(x) end,
      "maxpool2d_forward: not supported on cuda")
    assert.has_error(function() nn.Softmax():forward(x) end, "softmax_forward: not supported on cuda")
    assert.has_error(function() nn.Linear(432, 2):to("cuda"):forward(x) end,
      "linear_forward: not supported on cuda")
    local net = mtcnn.models.pnet{}:to("cuda")
    local ok, err = pcall(net.forward, net, x)
    assert.is_false(ok)
    assert.truthy(err:find("In 1 module (conv1) of nn.Sequential: conv2d_forward: not supported on cuda", 1, true))
    local p, g = T.zeros(3):cuda(), T.ones(3):cuda()
    local opt = mtcnn.optim.SGD({p}, {g}, {lr = 0.1, momentum = 0.9})
    assert.has_error(function() opt:step() end, "sgd_step: not supported on cuda")
    -- mixing devices is its own error
    assert.has_error(function() nn.Conv2d(3, 4, 3):forward(x) end)
  end)
end)

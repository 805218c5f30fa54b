-- Moving nets, optimisers and losses between devices, the parts that run without a GPU:
-- tensor:move_ keeps the Lua object, net:to keeps parameter identity (so optimisers made
-- before still hold the net's tensors), opt:to and crit:to, buffers on the module's device,
-- and clear errors when no CUDA device can be used. spec/nn_gpu_spec.lua (#gpu) moves them to
-- a GPU.
local mtcnn = require "mtcnn"
local T, nn, models, optim = mtcnn.tensor, mtcnn.nn, mtcnn.models, mtcnn.optim
local util = require "mtcnn.nn.util"

describe("devices of nets and optimisers", function()
  it("tensor:move_ keeps the object and its values", function()
    local t = T.arange(6):view(2, 3)
    local views = t:narrow(2, 1, 2)
    assert.are.equal(t, t:move_("cpu"))
    assert.is_true(t:equal(T.arange(6):view(2, 3)))
    assert.are.same({2, 2}, views:size())
    assert.has_error(function() t:move_("tpu") end)
  end)

  it("net:to keeps parameters and gradients as the same tensors, with their values", function()
    local net = models.rnet{seed = 2}
    local params, grads = net:parameters()
    local before = {}
    for i, p in ipairs(params) do before[i] = p:clone() end
    local opt = optim.SGD(params, grads, {lr = 0.1, momentum = 0.9})
    assert.are.equal(net, net:to("cpu"))
    assert.are.equal(net, net:cpu())
    local after, after_grads = net:parameters()
    for i = 1, #params do
      assert.are.equal(params[i], after[i])
      assert.are.equal(grads[i], after_grads[i])
      assert.is_true(params[i]:equal(before[i]))
    end
    assert.are.equal("cpu", net.device)
    assert.are.equal("cpu", net:get(1).device)
    assert.are.equal(opt, opt:to("cpu"))
    -- the optimiser still updates the net's own tensors
    net:training()
    local x = T.rand(4, 3, 24, 24, T.generator(1))
    local step = optim.train_step(net, nn.MTCNNLoss{net = "rnet"}, opt)
    step(x, {label = T.tensor{1, 0, -1, -2}, box = T.zeros(4, 4), landmarks = T.zeros(4, 10)})
    assert.is_false(net:named_parameters()[1].tensor:equal(before[1]))
  end)

  it("makes buffers on the module's device and moves a loss's buffers", function()
    assert.are.equal("cpu", util.buffer():device())
    assert.are.equal("cpu", util.buffer("cpu"):device())
    local conv = nn.Conv2d(3, 4, 3)
    conv.grad_input = nil
    assert.are.equal("cpu", util.grad_input(conv):device())
    local crit = nn.MTCNNLoss{}
    assert.are.equal(crit, crit:to("cpu"))
    assert.are.equal("cpu", crit.dcls:device())
  end)

  it("says why when no CUDA device can be used", function()
    if mtcnn.cuda.available() then pending("a GPU is present; spec/nn_gpu_spec.lua covers it") end
    local t = T.ones(3)
    local ok, err = pcall(t.move_, t, "cuda")
    assert.is_false(ok)
    assert.truthy(tostring(err):find("cuda", 1, true), err)
    assert.is_true(t:equal(T.ones(3))) -- unchanged and usable
    local net = models.pnet{}
    ok, err = pcall(net.to, net, "cuda")
    assert.is_false(ok)
    assert.truthy(tostring(err):find("cuda", 1, true), err)
    local det, why = mtcnn.detector.new{device = "cuda"}
    assert.is_nil(det)
    assert.truthy(why:find("detector: device cuda: ", 1, true), why)
    assert.has_error(function() mtcnn.detector.new{device = "tpu"} end,
      'detector: device must be "cpu" or "cuda"')
  end)
end)

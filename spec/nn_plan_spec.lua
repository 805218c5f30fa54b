-- nn.plan: nets compiled for evaluate-mode runs driven from C (runtime/nn/mt_plan.h) give the
-- module-by-module forward pass's results, for one batch split over threads and for several
-- inputs at once, and refuse what they cannot run with a clear message.
local helper = require "helper"
local mtcnn = require "mtcnn"
local T, nn, sys = mtcnn.tensor, mtcnn.nn, mtcnn.sys

describe("nn.plan", function()
  local saved_threads, saved_kernels
  setup(function()
    saved_threads, saved_kernels = sys.threads(), nn.kernels()
  end)
  teardown(function()
    sys.set_threads(saved_threads)
    nn.set_kernels(saved_kernels)
  end)

  local function copy(out)
    local c = {}
    for k, v in pairs(out) do
      if type(k) == "string" then c[k] = v:clone() end
    end
    return c
  end

  it("equals the modules' forward pass for the three nets, on 1 and 2 threads", function()
    for _, set in ipairs({"auto", "ref"}) do
      nn.set_kernels(set)
      for _, arch in ipairs({"pnet", "rnet", "onet"}) do
        local net = mtcnn.models[arch]{seed = 5}:evaluate()
        local size = mtcnn.models.input_size[arch]
        -- an odd batch (uneven parts) and, for PNet, a map larger than its training size
        local x = arch == "pnet" and T.randn(3, 3, 31, 45, T.generator(1))
                  or T.randn(37, 3, size, size, T.generator(2))
        local ref = copy(net:forward(x))
        local plan = nn.plan(net)
        for _, threads in ipairs({1, 2}) do
          sys.set_threads(threads)
          local out = plan:forward(x)
          for k, v in pairs(ref) do
            helper.tensor_near(out[k], v, 0, ("%s %s %s, %d threads"):format(set, arch, k, threads))
          end
          assert.are.equal(out.cls, out[1]) -- the Heads layout: by key and by position
        end
      end
    end
  end)

  it("runs several inputs at once, each as its own forward pass", function()
    local net = mtcnn.models.pnet{landmarks = false, seed = 6}:evaluate()
    local plan = nn.plan(net)
    local xs = {}
    for i, s in ipairs({48, 12, 30, 75, 13}) do xs[i] = T.randn(1, 3, s, s + 9, T.generator(i)) end
    for _, threads in ipairs({1, 2}) do
      sys.set_threads(threads)
      local outs = plan:forward_many(xs)
      assert.are.equal(#xs, #outs)
      for i, x in ipairs(xs) do
        local ref = net:forward(x)
        helper.tensor_near(outs[i].cls, ref.cls, 0, "level " .. i .. " cls")
        helper.tensor_near(outs[i].box, ref.box, 0, "level " .. i .. " box")
      end
    end
  end)

  it("sees weights changed in place after it was compiled", function()
    local net = mtcnn.models.rnet{seed = 7}:evaluate()
    local plan = nn.plan(net)
    local x = T.randn(4, 3, 24, 24, T.generator(3))
    local before = plan:forward(x).box:clone()
    net:get(1).weight:mul_(0.5)
    local ref = net:forward(x).box
    local after = plan:forward(x).box
    helper.tensor_near(after, ref, 0, "after the update")
    assert.is_true(after:max_abs_diff(before) > 1e-4)
  end)

  it("compiles plain Sequentials, conv + pool without PReLU, and dropout as the identity", function()
    local g = {generator = T.generator(9)}
    local net = nn.Sequential()
      :add(nn.Conv2d(3, 5, 3, g)):add(nn.MaxPool2d(2))
      :add(nn.Conv2d(5, 6, 2, g)):add(nn.Dropout(0.5)):add(nn.PReLU(6))
      :add(nn.Linear(6 * 2 * 2, 3, g)):add(nn.Softmax())
    net:evaluate()
    local x = T.randn(5, 3, 8, 8, T.generator(4))
    local ref = net:forward(x):clone()
    local out = nn.plan(net):forward(x)
    helper.tensor_near(out, ref, 0, "plain net")
  end)

  it("refuses what it cannot run, naming it", function()
    local lone = nn.Sequential():add(nn.PReLU(3))
    assert.has_error(function() nn.plan(lone) end,
      "nn.plan: cannot compile nn.PReLU (module 1): it must follow a Conv2d or Linear")
    local heads_first = nn.Sequential():add(nn.Heads():add("a", nn.Linear(2, 2))):add(nn.Linear(2, 2))
    assert.has_error(function() nn.plan(heads_first) end,
      "nn.plan: nn.Heads must be the last module (found at 1)")
    local plan = nn.plan(mtcnn.models.rnet{seed = 1}:evaluate())
    local ok, err = pcall(plan.forward, plan, T.randn(2, 3, 30, 24))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("plan: trunk layer", 1, true), tostring(err))
    ok, err = pcall(plan.forward, plan, T.randn(2, 4, 24, 24))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("does not fit the weight", 1, true), tostring(err))
  end)

  it("takes an empty batch", function()
    local plan = nn.plan(mtcnn.models.onet{seed = 1}:evaluate())
    local out = plan:forward(T.empty(0, 3, 48, 48))
    assert.are.same({0, 2}, out.cls:size())
  end)

  it("allocates nothing once warm", function()
    local plan = nn.plan(mtcnn.models.onet{seed = 2}:evaluate())
    local x = T.randn(9, 3, 48, 48, T.generator(5))
    plan:forward(x)
    collectgarbage()
    local before = T.memory().cpu
    for _ = 1, 3 do plan:forward(x) end
    collectgarbage()
    assert.are.equal(before, T.memory().cpu)
  end)
end)

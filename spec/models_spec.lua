-- The three nets: architecture, parameter counts and names, outputs, the summary, model files
-- (round trips, corrupted and truncated files), and a toy training run that must converge.
local helper = require "helper"
local mtcnn = require "mtcnn"
local T = mtcnn.tensor
local nn, models, optim = mtcnn.nn, mtcnn.models, mtcnn.optim

local function names(net)
  local l = {}
  for i, e in ipairs(net:named_parameters()) do l[i] = e.name end
  return l
end

describe("models", function()
  it("have the original parameter counts", function()
    assert.are.equal(6632, models.pnet{landmarks = false}:num_parameters())
    assert.are.equal(6962, models.pnet{}:num_parameters())
    assert.are.equal(100178, models.rnet{landmarks = false}:num_parameters())
    assert.are.equal(101468, models.rnet{}:num_parameters())
    assert.are.equal(389040, models.onet{}:num_parameters())
    assert.are.equal(386470, models.onet{landmarks = false}:num_parameters())
  end)

  it("name their parameters for importers", function()
    assert.are.same({"conv1.weight", "conv1.bias", "prelu1.weight", "conv2.weight", "conv2.bias",
      "prelu2.weight", "conv3.weight", "conv3.bias", "prelu3.weight", "cls.weight", "cls.bias",
      "box.weight", "box.bias"}, names(models.pnet{landmarks = false}))
    assert.are.same({"conv1.weight", "conv1.bias", "prelu1.weight", "conv2.weight", "conv2.bias",
      "prelu2.weight", "conv3.weight", "conv3.bias", "prelu3.weight", "fc1.weight", "fc1.bias",
      "prelu4.weight", "cls.weight", "cls.bias", "box.weight", "box.bias", "landmarks.weight",
      "landmarks.bias"}, names(models.rnet{}))
    local onet = names(models.onet{})
    assert.are.equal("conv4.weight", onet[10])
    assert.are.equal("prelu5.weight", onet[15])
    assert.are.equal("landmarks.bias", onet[#onet])
    local shapes = {}
    for _, e in ipairs(models.onet{}:named_parameters()) do shapes[e.name] = e.tensor:size() end
    assert.are.same({64, 32, 3, 3}, shapes["conv2.weight"])
    assert.are.same({256, 1152}, shapes["fc1.weight"])
    assert.are.same({10, 256}, shapes["landmarks.weight"])
  end)

  it("produce the documented outputs", function()
    local pnet = models.pnet{}
    pnet:evaluate()
    local o = pnet:forward(T.randn(2, 3, 12, 12))
    assert.are.same({2, 2, 1, 1}, o.cls:size())
    assert.are.same({2, 4, 1, 1}, o.box:size())
    assert.are.same({2, 10, 1, 1}, o.landmarks:size())
    o = pnet:forward(T.randn(1, 3, 30, 41))
    -- h = ceil((30 - 2 - 2) / 2) + 1 - 4 = 10, w = ceil((41 - 2 - 2) / 2) + 1 - 4 = 16
    assert.are.same({1, 2, 10, 16}, o.cls:size())
    helper.tensor_near(o.cls:sum(2), T.ones(1, 1, 10, 16), 1e-6, "probabilities")
    local r = models.rnet{landmarks = false}:forward(T.randn(3, 3, 24, 24))
    assert.are.same({3, 2}, r.cls:size())
    assert.are.same({3, 4}, r.box:size())
    assert.is_nil(r.landmarks)
    assert.is_nil(r[3])
    local on = models.onet{}:forward(T.randn(2, 3, 48, 48))
    assert.are.same({2, 10}, on.landmarks:size())
    assert.are.equal(on.landmarks, on[3])
    assert.are.equal("onet", models.onet{}.arch)
    assert.are.same({landmarks = true, dropout = 0.25}, models.onet{}.options)
    assert.has_error(function() models.pnet{landmark = false} end,
      "models.pnet: unknown option 'landmark'")
  end)

  it("print a Torch-style summary", function()
    local s = tostring(models.pnet{landmarks = false})
    assert.truthy(s:find("mtcnn.models.pnet{landmarks = false}: 6,632 parameters", 1, true))
    assert.truthy(s:find("(1) conv1: nn.Conv2d(3 -> 10, 3x3)", 1, true))
    assert.truthy(s:find("(3) pool1: nn.MaxPool2d(2x2, stride 2x2, ceil)", 1, true))
    assert.truthy(s:find("cls: nn.Sequential {", 1, true))
    assert.truthy(tostring(models.onet{}):find("nn.Dropout(0.25, training only)", 1, true))
  end)

  it("initialise reproducibly from a seed", function()
    local a, b = models.rnet{seed = 4}, models.rnet{seed = 4}
    local c = models.rnet{seed = 5}
    assert.is_true(a:get(1).weight:equal(b:get(1).weight))
    assert.is_false(a:get(1).weight:equal(c:get(1).weight))
  end)
end)

describe("model files", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  it("round-trip architecture, options and every parameter", function()
    for _, build in ipairs({
      function() return models.pnet{landmarks = false, seed = 1} end,
      function() return models.rnet{seed = 2} end,
      function() return models.onet{dropout = 0, seed = 3} end,
    }) do
      local net = build()
      local path = dir .. "/" .. net.arch .. ".mtn"
      assert.is_true(models.save(net, path))
      local back = assert(models.load(path))
      assert.are.equal(net.arch, back.arch)
      assert.are.same(net.options, back.options)
      local a, b = net:named_parameters(), back:named_parameters()
      assert.are.equal(#a, #b)
      for i = 1, #a do
        assert.are.equal(a[i].name, b[i].name)
        assert.is_true(a[i].tensor:equal(b[i].tensor), a[i].name)
      end
      local size = models.input_size[net.arch]
      local x = T.randn(2, 3, size, size)
      net:evaluate(); back:evaluate()
      assert.is_true(net:forward(x).cls:equal(back:forward(x).cls))
    end
    -- no temporary file is left behind
    local listing = helper.run("ls " .. helper.q(dir))
    assert.is_nil(listing:find("tmp", 1, true))
  end)

  it("report truncated, corrupted and foreign files by name", function()
    local net = models.pnet{seed = 1}
    local path = dir .. "/p.mtn"
    assert(models.save(net, path))
    local bytes = helper.read_file(path)

    local cut = dir .. "/cut.mtn"
    helper.write_file(cut, bytes:sub(1, #bytes // 2))
    local m, err = models.load(cut)
    assert.is_nil(m)
    assert.truthy(err:find(cut, 1, true))
    assert.truthy(err:find("truncated", 1, true), err)

    helper.write_file(cut, bytes:sub(1, 20))
    m, err = models.load(cut)
    assert.is_nil(m)
    assert.truthy(err:find("truncated", 1, true), err)

    local bad = dir .. "/bad.mtn"
    local i = #bytes - 200 -- inside the last tensor's values
    helper.write_file(bad, bytes:sub(1, i - 1) .. string.char((bytes:byte(i) + 1) % 256) .. bytes:sub(i + 1))
    m, err = models.load(bad)
    assert.is_nil(m)
    assert.truthy(err:find(bad, 1, true))
    assert.truthy(err:find("checksum", 1, true), err)

    helper.write_file(bad, "hello, not a model at all")
    m, err = models.load(bad)
    assert.is_nil(m)
    assert.are.equal(bad .. ": not an mtcnn model file (bad magic)", err)

    m, err = models.load(dir .. "/missing.mtn")
    assert.is_nil(m)
    assert.truthy(err:find("missing.mtn: cannot open", 1, true))

    local ok, werr = models.save(net, dir .. "/no/such/folder/p.mtn")
    assert.is_nil(ok)
    assert.truthy(werr:find("cannot create", 1, true), werr)
  end)
end)

describe("training steps", function()
  it("allocate no tensor memory once warm (buffers are reused)", function()
    for _, arch in ipairs({"pnet", "onet"}) do
      local net = models[arch]{seed = 1}
      local crit = nn.MTCNNLoss{net = arch}
      local params, grads = net:parameters()
      local opt = optim.SGD(params, grads, {lr = 1e-3, momentum = 0.9})
      local size = models.input_size[arch]
      local x = T.randn(8, 3, size, size)
      local target = {label = T.tensor{1, 0, -1, -2, 0, 0, 1, -2}, box = T.zeros(8, 4),
                      landmarks = T.zeros(8, 10)}
      local step = optim.train_step(net, crit, opt)
      step(x, target)
      step(x, target)
      collectgarbage()
      local before = T.memory().cpu
      for _ = 1, 3 do step(x, target) end
      assert.are.equal(before, T.memory().cpu, arch .. ": tensor bytes after 3 more steps")
    end
  end)
end)

describe("training a tiny net", function()
  -- Toy problem at 12x12: positives and part faces carry a bright square whose offsets are the
  -- box targets, landmark faces its corners and centre, negatives are noise.
  local function toy_batch(g, n)
    local x = T.randn(n, 3, 12, 12, g) * 0.2
    local label, box, lmk = T.zeros(n), T.zeros(n, 4), T.zeros(n, 10)
    for i = 1, n do
      local kind = i % 4
      label[i] = ({[0] = 0, 1, -1, -2})[kind]
      if kind ~= 0 then
        local dx, dy = g:integer(0, 4), g:integer(0, 4)
        local s = 6
        x:select(1, i):narrow(2, dy + 1, s):narrow(3, dx + 1, s):add_(1)
        box:select(1, i):copy_(T.tensor{dx / 12, dy / 12, (dx + s - 12) / 12, (dy + s - 12) / 12})
        lmk:select(1, i):copy_(T.tensor{dx, dx + s, dx + 3, dx, dx + s,
                                        dy, dy, dy + 3, dy + s, dy + s} / 12)
      end
    end
    return x, {label = label, box = box, landmarks = lmk}
  end

  it("drives the full MTCNN loss of a PNet below 0.02 with SGD", function()
    local g = T.generator(1)
    local batches = {}
    for b = 1, 8 do batches[b] = {toy_batch(g, 64)} end
    local net = models.pnet{seed = 3}
    local crit = nn.MTCNNLoss{net = "pnet"}
    local params, grads = net:parameters()
    local opt = optim.SGD(params, grads, {lr = 0.05, momentum = 0.9})
    local first, last
    for step = 1, 120 do
      local x, target = table.unpack(batches[(step - 1) % #batches + 1])
      net:zero_grad()
      local out = net:forward(x)
      local loss = crit:forward(out, target)
      net:backward(x, crit:backward(out, target))
      crit:penalty(net)
      opt:step()
      first = first or loss
      last = loss
    end
    assert.is_true(first > 0.2, "starts high: " .. first)
    assert.is_true(last < 0.02, "ends low: " .. last)
    assert.are.equal(1, crit.stats.accuracy)
  end)
end)

-- The original MTCNN weights (../shared/models/golden) loaded into our PNet, RNet and ONet
-- reproduce cv2.dnn's outputs of every layer on every golden case within 1e-4: the test of
-- ceil-mode pooling, PReLU, the FC flattening order and the layer semantics. The golden
-- inputs are fed as given (transposed images, as the original was trained on), which the
-- original weights expect unchanged.
local helper = require "helper"
local mtcnn = require "mtcnn"
local json = require "mtcnn.json"
local T = mtcnn.tensor
local models = mtcnn.models

local golden = helper.shared .. "/models/golden"

-- A raw little-endian float32 file as a tensor of the given shape.
local function read_f32(path, shape)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  local n = #data // 4
  local values, chunk = {}, 4096
  for i = 0, n - 1, chunk do
    local m = math.min(chunk, n - i)
    local vals = {string.unpack("<" .. ("f"):rep(m), data, 4 * i + 1)}
    for k = 1, m do values[i + k] = vals[k] end
  end
  local numel = 1
  for _, d in ipairs(shape) do numel = numel * d end
  assert(numel == n, ("%s: %d values for shape %s"):format(path, n, table.concat(shape, "x")))
  return T.tensor(values):view(shape)
end

-- Caffe layer name -> our parameter prefix, per net.
local PARAM_NAMES = {
  pnet = {conv1 = "conv1", PReLU1 = "prelu1", conv2 = "conv2", PReLU2 = "prelu2",
          conv3 = "conv3", PReLU3 = "prelu3", ["conv4-1"] = "cls", ["conv4-2"] = "box"},
  rnet = {conv1 = "conv1", prelu1 = "prelu1", conv2 = "conv2", prelu2 = "prelu2",
          conv3 = "conv3", prelu3 = "prelu3", conv4 = "fc1", prelu4 = "prelu4",
          ["conv5-1"] = "cls", ["conv5-2"] = "box"},
  onet = {conv1 = "conv1", prelu1 = "prelu1", conv2 = "conv2", prelu2 = "prelu2",
          conv3 = "conv3", prelu3 = "prelu3", conv4 = "conv4", prelu4 = "prelu4",
          conv5 = "fc1", prelu5 = "prelu5", ["conv6-1"] = "cls", ["conv6-2"] = "box",
          ["conv6-3"] = "landmarks"},
}

-- Our net with the original weights (the original layout: landmark heads only on ONet).
local function original_net(manifest, arch)
  local net = models[arch]{landmarks = arch == "onet"}
  local by_name = {}
  for _, e in ipairs(net:named_parameters()) do by_name[e.name] = e.tensor end
  local loaded = 0
  for _, layer in ipairs(manifest.weights[arch].layers) do
    local prefix = PARAM_NAMES[arch][layer.name]
    for i, blob in ipairs(layer.params) do
      assert(prefix, "no mapping for " .. layer.name)
      local target = by_name[prefix .. (i == 1 and ".weight" or ".bias")]
      assert(target, "no parameter for " .. layer.name .. " blob " .. i)
      local t = read_f32(golden .. "/" .. blob.file, blob.shape)
      target:copy_(t:view(target:size()))
      loaded = loaded + 1
    end
  end
  assert(loaded == #net:named_parameters(), "every parameter is loaded")
  return net
end

-- Caffe layer (blob) name -> the module whose output it is.
local function layer_module(net, arch, name)
  local heads = net.modules[#net.modules]
  if name == "conv4-1" or name == "conv5-1" or name == "conv6-1" then
    return heads:get("cls"):get(1)
  end
  local ours = PARAM_NAMES[arch][name] or name:lower()
  for _, m in ipairs(net.modules) do
    if m.name == ours then return m end
  end
  -- RNet/ONet name their pools and the dropout like Caffe
  error("no module for layer " .. name)
end

local function max_abs(t)
  local a, b = t:max(), t:min()
  return math.max(math.abs(a), math.abs(b))
end

describe("nn golden vectors (original MTCNN weights)", function()
  local manifest
  local function cases_of(arch)
    local list = {}
    for _, c in ipairs(manifest.cases) do
      if c.net == arch then list[#list + 1] = c end
    end
    return list
  end

  for _, arch in ipairs({"pnet", "rnet", "onet"}) do
    it(arch .. " reproduces every golden output and layer within 1e-4", function()
      helper.need_shared("the golden vectors")
      manifest = manifest or assert(json.read_file(golden .. "/manifest.json"))
      local net = original_net(manifest, arch)
      local checked = 0
      for _, case in ipairs(cases_of(arch)) do
        local x = read_f32(golden .. "/" .. case.input.file, case.input.shape)
        -- unfused evaluate pass: every layer's own output, compared with the layer dumps
        net:evaluate()
        net.fuse = false
        local out = net:forward(x)
        for name, ref in pairs(case.layers or {}) do
          local want = read_f32(golden .. "/" .. ref.file, ref.shape)
          local got = layer_module(net, arch, name).output
          -- layer values reach ~10 on the seeded inputs: 1e-4 relative to the layer's range
          local tol = 1e-4 * math.max(1, max_abs(want))
          helper.tensor_near(got:reshape(ref.shape), want, tol, case.name .. " layer " .. name)
          checked = checked + 1
        end
        -- the fused path (what the detector runs) on the final outputs
        net.fuse = true
        out = net:forward(x)
        for name, ref in pairs(case.outputs) do
          local want = read_f32(golden .. "/" .. ref.file, ref.shape)
          local got = (name == "prob1") and out.cls
            or ((name == "conv6-3") and out.landmarks or out.box)
          helper.tensor_near(got:reshape(ref.shape), want, 1e-4, case.name .. " " .. name)
          checked = checked + 1
        end
      end
      assert.is_true(checked >= 3)
    end)
  end
end)

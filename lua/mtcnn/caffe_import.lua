-- mtcnn.caffe_import: turning the original MTCNN Caffe models (det1, det2,
-- det3) into this project's nets.
--
--   local import = require "mtcnn.caffe_import"
--   local nets = assert(import.load(dir))        -- {pnet =, rnet =, onet =}
--
-- The original nets were trained on TRANSPOSED images (the MATLAB code hands
-- Caffe H x W arrays that it reads as W x H; docs/design.md, 'Importing the original weights').
-- Our nets take normal NCHW images, so the importer swaps the two spatial
-- axes of every convolution kernel, and re-orders the inputs of the first
-- fully connected layer (RNet conv4, ONet conv5), which the original
-- flattens in (channel, x, y) order, to our (channel, y, x) order. The
-- regression and landmark outputs are in image x/y terms already and need
-- nothing. Each net gets a landmark head exactly when its prototxt has one.

local caffe = require "mtcnn.caffe"
local models = require "mtcnn.models"
local T = require "mtcnn.tensor"

local import = {}

-- Caffe layer name -> our parameter prefix, per net; "fc_from_conv" marks the
-- fully connected layer whose inputs are a flattened feature map.
import.LAYERS = {
  pnet = {
    file = "det1",
    map = {conv1 = "conv1", PReLU1 = "prelu1", conv2 = "conv2", PReLU2 = "prelu2",
           conv3 = "conv3", PReLU3 = "prelu3", ["conv4-1"] = "cls", ["conv4-2"] = "box"},
    landmark_layer = "conv4-3",
  },
  rnet = {
    file = "det2",
    map = {conv1 = "conv1", prelu1 = "prelu1", conv2 = "conv2", prelu2 = "prelu2",
           conv3 = "conv3", prelu3 = "prelu3", conv4 = "fc1", prelu4 = "prelu4",
           ["conv5-1"] = "cls", ["conv5-2"] = "box", ["conv5-3"] = "landmarks"},
    fc_from_conv = {conv4 = {64, 3, 3}},
    landmark_layer = "conv5-3",
  },
  onet = {
    file = "det3",
    map = {conv1 = "conv1", prelu1 = "prelu1", conv2 = "conv2", prelu2 = "prelu2",
           conv3 = "conv3", prelu3 = "prelu3", conv4 = "conv4", prelu4 = "prelu4",
           conv5 = "fc1", prelu5 = "prelu5", ["conv6-1"] = "cls", ["conv6-2"] = "box",
           ["conv6-3"] = "landmarks"},
    fc_from_conv = {conv5 = {128, 3, 3}},
    landmark_layer = "conv6-3",
  },
}

-- The blob as a tensor in our layout for the parameter it fills.
local function convert(blob, layer_type, fc_map, target_shape)
  local t = T.from_bytes(blob.data, blob.shape)
  if layer_type == "Convolution" and #blob.shape == 4 then
    t = t:transpose(3, 4):contiguous() -- kernels were learnt on transposed images
  elseif fc_map and #blob.shape == 2 then
    local c, h, w = fc_map[1], fc_map[2], fc_map[3]
    t = t:view(blob.shape[1], c, w, h):transpose(3, 4):contiguous():view(blob.shape[1], c * h * w)
  end
  return t:reshape(target_shape)
end

--- Builds one net from <dir>/<detN>.prototxt and .caffemodel.
function import.load_net(dir, arch)
  local spec = import.LAYERS[arch]
  if not spec then return nil, "caffe import: unknown net " .. tostring(arch) end
  local proto_path = dir .. "/" .. spec.file .. ".prototxt"
  local model_path = dir .. "/" .. spec.file .. ".caffemodel"
  local proto, err = caffe.read_prototxt(proto_path)
  if not proto then return nil, err end
  local model
  model, err = caffe.read_caffemodel(model_path)
  if not model then return nil, err end

  local in_proto = {}
  for _, l in ipairs(proto.layers) do
    if l.name ~= nil then in_proto[l.name] = l.type end -- caffe allows unnamed layers
  end
  local net = models[arch]{landmarks = in_proto[spec.landmark_layer] ~= nil}
  local params = {}
  for _, p in ipairs(net:named_parameters()) do params[p.name] = p.tensor end

  local filled = {}
  for _, layer in ipairs(model.layers) do
    local prefix = spec.map[layer.name]
    if prefix and in_proto[layer.name] and #layer.blobs > 0 then
      local names = layer.type == "PReLU" and {prefix .. ".weight"}
        or {prefix .. ".weight", prefix .. ".bias"}
      if #layer.blobs ~= #names then
        return nil, ("%s: layer %s has %d blobs, expected %d"):format(model_path, layer.name,
          #layer.blobs, #names)
      end
      for i, name in ipairs(names) do
        local target = params[name]
        if not target then return nil, ("caffe import: %s has no parameter %s"):format(arch, name) end
        local blob = layer.blobs[i]
        local n = 1
        for _, d in ipairs(blob.shape) do n = n * d end
        if n ~= target:numel() then
          return nil, ("%s: %s holds %d values, %s.%s needs %d"):format(model_path, layer.name, n,
            arch, name, target:numel())
        end
        target:copy_(convert(blob, layer.type, spec.fc_from_conv and spec.fc_from_conv[layer.name],
          target:size()))
        filled[name] = true
      end
    elseif prefix == nil and in_proto[layer.name] and #layer.blobs > 0 then
      return nil, ("%s: layer %s has weights this importer does not know"):format(model_path, layer.name)
    end
  end
  for name in pairs(params) do
    if not filled[name] then
      return nil, ("%s: no weights for %s.%s"):format(model_path, arch, name)
    end
  end
  net:evaluate()
  return net
end

--- Builds the three nets from a folder holding det1..det3 .prototxt and .caffemodel.
function import.load(dir)
  local nets = {}
  for _, arch in ipairs({"pnet", "rnet", "onet"}) do
    local net, err = import.load_net(dir, arch)
    if not net then return nil, err end
    nets[arch] = net
  end
  return nets
end

return import

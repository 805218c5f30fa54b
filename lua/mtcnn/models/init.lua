-- mtcnn.models: the three MTCNN nets (docs/design.md, 'The networks') and their model files.
--
--   local models = require "mtcnn.models"
--   local net = models.pnet{landmarks = false}   -- also models.rnet{...}, models.onet{...}
--   local out = net:forward(x)                    -- {cls =, box =, landmarks =} (+ [1], [2], [3])
--   assert(models.save(net, "pnet.mtn"))
--   local net2 = assert(models.load("pnet.mtn"))
--   print(net)                                    -- Torch-style summary with parameter count
--
-- Options: landmarks (true: a 10-value landmark head, planar x1..x5, y1..y5; false: the
-- original PNet/RNet layout), dropout (ONet only: probability before prelu5 in training,
-- 0.25 as the original; 0 for none), seed (integer: initialise from T.generator(seed)
-- instead of the default generator). net.arch is "pnet", "rnet" or "onet", net.options the
-- options with defaults filled in.
--
-- Parameter names (net:named_parameters()): conv1.weight, conv1.bias, prelu1.weight, ...,
-- fc1.weight, fc1.bias (RNet, ONet), prelu4.weight (RNet fc1) or prelu5.weight (ONet fc1),
-- and the heads cls.*, box.*, landmarks.* (1x1 convolutions in PNet, fully connected in
-- RNet and ONet). Shapes are ours: conv [out,in,kh,kw], linear [out,in].
--
-- Outputs: PNet on an HxW input gives cls [N,2,h,w] (softmax; channel 2 is the face
-- probability), box [N,4,h,w], landmarks [N,10,h,w]; RNet and ONet give cls [N,2], box
-- [N,4], landmarks [N,10]. The first conv skips its input gradient (net:backward returns nil).

local json = require "mtcnn.json"
local T = require "mtcnn.tensor"
local nn = require "mtcnn.nn"
local core = require "mtcnn.core"

local models = {}

local ARCHS = {"pnet", "rnet", "onet"}

-- Fills defaults and rejects unknown options.
local function options_of(arch, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error(("models.%s: options must be a table"):format(arch), 3) end
  local known = {landmarks = true, seed = true, dropout = arch == "onet"}
  for k in pairs(opts) do
    if not known[k] then error(("models.%s: unknown option '%s'"):format(arch, tostring(k)), 3) end
  end
  local o = {landmarks = opts.landmarks ~= false}
  if opts.seed ~= nil then
    if math.type(opts.seed) ~= "integer" then error(("models.%s: seed must be an integer"):format(arch), 3) end
    o.seed = opts.seed
  end
  if arch == "onet" then
    o.dropout = opts.dropout or 0.25
    if type(o.dropout) ~= "number" or o.dropout < 0 or o.dropout >= 1 then
      error("models.onet: dropout must lie in [0, 1)", 3)
    end
  end
  return o
end

local function group_digits(n)
  local s = tostring(n)
  local r = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (r:gsub("^,", ""))
end

local function options_string(o)
  local keys, parts = {}, {}
  for k in pairs(o) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s = %s"):format(k, tostring(o[k])) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Common finishing: heads, metadata, the summary title, no input gradient for layer 1.
local function finish(net, arch, o, heads)
  net:add(heads)
  net.arch = arch
  net.options = o
  net.modules[1].skip_input_grad = true
  net.title = ("mtcnn.models.%s%s: %s parameters"):format(arch, options_string(o),
    group_digits(net:num_parameters()))
  return net
end

local function generator(o)
  if o.seed then return T.generator(o.seed) end
  return nil
end

-- The trunk: one convN + preluN (+ poolN) block per {in, out, kernel [, pool = {k, s}]}, in
-- order (the weights are drawn from g's generator in this order).
local function trunk(g, blocks)
  local net = nn.Sequential()
  for n, b in ipairs(blocks) do
    net:add(nn.Conv2d(b[1], b[2], b[3], g), "conv" .. n):add(nn.PReLU(b[2]), "prelu" .. n)
    if b.pool then net:add(nn.MaxPool2d(b.pool[1], b.pool[2]), "pool" .. n) end
  end
  return net
end

-- The heads on nin features: cls (with its softmax), box and, with o.landmarks, landmarks;
-- layer(nin, nout) makes each (1x1 convolutions in PNet, fully connected in RNet and ONet).
local function heads(nin, o, layer)
  local h = nn.Heads()
    :add("cls", nn.Sequential():add(layer(nin, 2), "cls"):add(nn.Softmax()))
    :add("box", layer(nin, 4))
  h:get("box").name = "box"
  if o.landmarks then
    h:add("landmarks", layer(nin, 10))
    h:get("landmarks").name = "landmarks"
  end
  return h
end

--- models.pnet{landmarks = true, seed} -> PNet (12x12 training input, fully convolutional)
function models.pnet(opts)
  local o = options_of("pnet", opts)
  local g = {generator = generator(o)}
  local net = trunk(g, {{3, 10, 3, pool = {2, 2}}, {10, 16, 3}, {16, 32, 3}})
  return finish(net, "pnet", o, heads(32, o, function(nin, nout)
    return nn.Conv2d(nin, nout, 1, g)
  end))
end

-- Fully connected heads drawing from g.
local function fc(g)
  return function(nin, nout) return nn.Linear(nin, nout, g) end
end

--- models.rnet{landmarks = true, seed} -> RNet (24x24 input)
function models.rnet(opts)
  local o = options_of("rnet", opts)
  local g = {generator = generator(o)}
  local net = trunk(g, {{3, 28, 3, pool = {3, 2}}, {28, 48, 3, pool = {3, 2}}, {48, 64, 2}})
    :add(nn.Linear(576, 128, g), "fc1"):add(nn.PReLU(128), "prelu4")
  return finish(net, "rnet", o, heads(128, o, fc(g)))
end

--- models.onet{landmarks = true, dropout = 0.25, seed} -> ONet (48x48 input)
function models.onet(opts)
  local o = options_of("onet", opts)
  local g = {generator = generator(o)}
  local net = trunk(g, {{3, 32, 3, pool = {3, 2}}, {32, 64, 3, pool = {3, 2}},
                        {64, 64, 3, pool = {2, 2}}, {64, 128, 2}})
    :add(nn.Linear(1152, 256, g), "fc1")
  if o.dropout > 0 then net:add(nn.Dropout(o.dropout, g), "drop5") end
  net:add(nn.PReLU(256), "prelu5")
  return finish(net, "onet", o, heads(256, o, fc(g)))
end

--- models.build(arch, options) -> net
function models.build(arch, opts)
  local f = models[arch]
  for _, a in ipairs(ARCHS) do
    if a == arch then return f(opts) end
  end
  error(("models.build: unknown architecture '%s' (pnet, rnet or onet)"):format(tostring(arch)), 2)
end

-- The input side of a net's training samples.
models.input_size = {pnet = 12, rnet = 24, onet = 48}

-- ---- model files ----------------------------------------------------------------------------

local FORMAT = "mtcnn-net"

--- models.save(net, path) -> true | nil, message. Writes the architecture, its options and
--- every parameter (named) in the checksummed format of runtime/nn/mt_model_io.h, atomically.
function models.save(net, path)
  if type(net) ~= "table" or not net.arch then
    error("models.save: expected a net built by mtcnn.models", 2)
  end
  local entries = net:named_parameters()
  local params, tensors = {}, {}
  for i, e in ipairs(entries) do
    params[i] = json.ordered({name = e.name, shape = e.tensor:size()}, {"name", "shape"})
    tensors[i] = e.tensor
  end
  local opts = {}
  for k, v in pairs(net.options) do opts[k] = v end
  local header = json.encode(json.ordered({
    format = FORMAT, arch = net.arch, options = json.object(opts), params = params,
  }, {"format", "arch", "options", "params"}))
  return core.nn.save_model(path, header, tensors)
end

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

--- models.load(path) -> net | nil, message naming the file and the problem.
function models.load(path)
  local header, tensors = core.nn.load_model(path)
  if not header then return nil, tensors end
  local h, err = json.decode(header)
  if not h then return nil, ("%s: unreadable model description: %s"):format(path, err) end
  if type(h) ~= "table" or h.format ~= FORMAT then
    return nil, ("%s: not an mtcnn net (format %s)"):format(path, tostring(type(h) == "table" and h.format))
  end
  local known = false
  for _, a in ipairs(ARCHS) do known = known or a == h.arch end
  if not known then return nil, ("%s: unknown architecture '%s'"):format(path, tostring(h.arch)) end
  local opts = {}
  for k, v in pairs(type(h.options) == "table" and h.options or {}) do opts[k] = v end
  local ok, net = pcall(models[h.arch], opts)
  if not ok then return nil, ("%s: cannot build the net: %s"):format(path, tostring(net)) end
  local entries = net:named_parameters()
  if #entries ~= #tensors or type(h.params) ~= "table" or #h.params ~= #tensors then
    return nil, ("%s: %d parameter tensors in the file, the %s net has %d"):format(path,
      #tensors, h.arch, #entries)
  end
  for i, e in ipairs(entries) do
    local p = h.params[i]
    if type(p) ~= "table" or p.name ~= e.name then
      return nil, ("%s: parameter %d is '%s', expected '%s'"):format(path, i,
        tostring(type(p) == "table" and p.name), e.name)
    end
    if not same_shape(tensors[i]:size(), e.tensor:size()) then
      return nil, ("%s: parameter %s has shape %s, expected %s"):format(path, e.name,
        table.concat(tensors[i]:size(), "x"), table.concat(e.tensor:size(), "x"))
    end
    e.tensor:copy_(tensors[i])
  end
  return net
end

return models

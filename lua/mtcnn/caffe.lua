-- mtcnn.caffe: reading Caffe models (.prototxt network descriptions and
-- .caffemodel weights) without Caffe or a protobuf library.
--
--   caffe.read_prototxt(path) -> net | nil, message
--       net = {name, inputs = {...}, layers = {{name, type, bottom = {}, top = {},
--              params = {<nested tables of the text format>}}, ...}}
--   caffe.read_caffemodel(path) -> model | nil, message
--       model = {name, layers = {{name, type, blobs = {{shape = {...}, data = <bytes>}}}}}
--       where data holds the blob's float32 values, little-endian, row-major
--   caffe.layer_blobs(model) -> {[layer name] = blobs}
--
-- The .caffemodel is a binary protobuf (NetParameter). Field numbers used here
-- are those of caffe.proto: NetParameter.name = 1, .layers = 2 (the old
-- V1LayerParameter), .layer = 100 (LayerParameter); LayerParameter.name = 1,
-- .type = 2, .blobs = 7; V1LayerParameter.name = 4, .type = 5 (an enum),
-- .blobs = 6; BlobProto.num/channels/height/width = 1..4 (legacy shape),
-- .data = 5 (packed float), .shape = 7 (BlobShape, .dim = 1 packed int64),
-- .double_data = 8.

local caffe = {}

-- ---- protobuf wire format -------------------------------------------------------------------

-- Reads a varint at position i of s; returns the value and the next position.
local function varint(s, i, limit)
  local v, shift = 0, 0
  while true do
    if i > limit then error("truncated varint", 0) end
    local b = s:byte(i)
    i = i + 1
    v = v | ((b & 0x7f) << shift)
    if b < 0x80 then return v, i end
    shift = shift + 7
    if shift > 63 then error("varint too long", 0) end
  end
end

-- Calls fn(field, wiretype, value, first, last) for each field of the message
-- in s[from..to]. For length-delimited fields value is nil and first..last
-- is the payload; for varints value is the number; for fixed32/64 value is
-- the raw bytes.
local function each_field(s, from, to, fn)
  local i = from
  while i <= to do
    local key
    key, i = varint(s, i, to)
    local field, wire = key >> 3, key & 7
    if wire == 0 then
      local v
      v, i = varint(s, i, to)
      fn(field, wire, v)
    elseif wire == 1 then
      if i + 7 > to then error("truncated fixed64 field", 0) end
      fn(field, wire, s:sub(i, i + 7))
      i = i + 8
    elseif wire == 2 then
      local len
      len, i = varint(s, i, to)
      if len < 0 or i + len - 1 > to then error("truncated length-delimited field", 0) end
      fn(field, wire, nil, i, i + len - 1)
      i = i + len
    elseif wire == 5 then
      if i + 3 > to then error("truncated fixed32 field", 0) end
      fn(field, wire, s:sub(i, i + 3))
      i = i + 4
    else
      error(("unsupported wire type %d"):format(wire), 0)
    end
  end
end

-- The V1LayerParameter type enum values that matter for MTCNN (caffe.proto).
local V1_TYPES = {
  [4] = "Convolution", [14] = "InnerProduct", [17] = "Pooling", [18] = "ReLU", [20] = "Softmax",
  [21] = "SoftmaxWithLoss", [6] = "Dropout", [5] = "Data", [28] = "Split",
}

local function parse_blob(s, from, to)
  local blob = {shape = {}, legacy = {}}
  local chunks, doubles = {}, nil
  each_field(s, from, to, function(field, wire, value, a, b)
    if field >= 1 and field <= 4 and wire == 0 then
      blob.legacy[field] = value
    elseif field == 5 then
      if wire == 2 then
        chunks[#chunks + 1] = s:sub(a, b) -- packed float32
      elseif wire == 5 then
        chunks[#chunks + 1] = value       -- one unpacked float
      end
    elseif field == 8 and wire == 2 then
      doubles = doubles or {}
      for k = a, b, 8 do doubles[#doubles + 1] = string.pack("<f", (string.unpack("<d", s, k))) end
    elseif field == 7 and wire == 2 then
      each_field(s, a, b, function(f2, w2, v2, a2, b2)
        if f2 == 1 and w2 == 2 then
          local k = a2
          while k <= b2 do
            local d
            d, k = varint(s, k, b2)
            blob.shape[#blob.shape + 1] = d
          end
        elseif f2 == 1 and w2 == 0 then
          blob.shape[#blob.shape + 1] = v2
        end
      end)
    end
  end)
  if #blob.shape == 0 then
    -- legacy 4-d shape (num, channels, height, width)
    for k = 1, 4 do blob.shape[k] = blob.legacy[k] or 1 end
  end
  blob.legacy = nil
  blob.data = doubles and table.concat(doubles) or table.concat(chunks)
  local n = 1
  for _, d in ipairs(blob.shape) do n = n * d end
  if #blob.data ~= 4 * n then
    error(("blob has %d values for shape %s"):format(#blob.data // 4, table.concat(blob.shape, "x")), 0)
  end
  return blob
end

local function parse_layer(s, from, to, v1)
  local layer = {blobs = {}, bottom = {}, top = {}}
  local f_name, f_type, f_blobs, f_bottom, f_top = 1, 2, 7, 3, 4
  if v1 then f_name, f_type, f_blobs, f_bottom, f_top = 4, 5, 6, 2, 3 end
  each_field(s, from, to, function(field, wire, value, a, b)
    if field == f_name and wire == 2 then
      layer.name = s:sub(a, b)
    elseif field == f_type then
      if v1 and wire == 0 then
        layer.type = V1_TYPES[value] or ("V1Type" .. value)
      elseif wire == 2 then
        layer.type = s:sub(a, b)
      end
    elseif field == f_blobs and wire == 2 then
      layer.blobs[#layer.blobs + 1] = parse_blob(s, a, b)
    elseif field == f_bottom and wire == 2 then
      layer.bottom[#layer.bottom + 1] = s:sub(a, b)
    elseif field == f_top and wire == 2 then
      layer.top[#layer.top + 1] = s:sub(a, b)
    end
  end)
  return layer
end

function caffe.read_caffemodel(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  local model = {layers = {}}
  local ok, msg = pcall(each_field, s, 1, #s, function(field, wire, _, a, b)
    if field == 1 and wire == 2 then
      model.name = s:sub(a, b)
    elseif field == 100 and wire == 2 then
      model.layers[#model.layers + 1] = parse_layer(s, a, b, false)
    elseif field == 2 and wire == 2 then
      model.layers[#model.layers + 1] = parse_layer(s, a, b, true)
    end
  end)
  if not ok then return nil, ("%s: not a valid caffemodel (%s)"):format(path, msg) end
  if #model.layers == 0 then return nil, path .. ": no layers found (not a caffemodel?)" end
  return model
end

function caffe.layer_blobs(model)
  local by_name = {}
  for _, l in ipairs(model.layers) do by_name[l.name] = l.blobs end
  return by_name
end

-- ---- prototxt (protobuf text format) --------------------------------------------------------

local function tokenize(text, path)
  local tokens = {}
  local i, line = 1, 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == "\n" then
      line = line + 1
      i = i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif c == "#" then
      local e = text:find("\n", i, true) or #text + 1
      i = e
    elseif c == "{" or c == "}" or c == ":" then
      tokens[#tokens + 1] = {c, line}
      i = i + 1
    elseif c == '"' or c == "'" then
      local e = text:find(c, i + 1, true)
      if not e then error(("%s:%d: unterminated string"):format(path, line), 0) end
      tokens[#tokens + 1] = {"string", line, text:sub(i + 1, e - 1)}
      i = e + 1
    else
      local word = text:match("^[^%s{}:#\"']+", i)
      tokens[#tokens + 1] = {"word", line, word}
      i = i + #word
    end
  end
  return tokens
end

-- Parses "key: value" and "key { ... }" entries into a table where every key
-- maps to a list of values (numbers, strings, enum words or nested tables).
local function parse_message(tokens, pos, path, closing)
  local msg = {}
  while true do
    local t = tokens[pos]
    if t == nil then
      if closing then error(("%s: missing '}' at end of file"):format(path), 0) end
      return msg, pos
    end
    if t[1] == "}" then
      if not closing then error(("%s:%d: unexpected '}'"):format(path, t[2]), 0) end
      return msg, pos + 1
    end
    if t[1] ~= "word" then error(("%s:%d: expected a field name"):format(path, t[2]), 0) end
    local key = t[3]
    pos = pos + 1
    local nxt = tokens[pos]
    if nxt and nxt[1] == ":" then
      pos = pos + 1
      nxt = tokens[pos]
    end
    if nxt == nil then error(("%s:%d: missing value for %s"):format(path, t[2], key), 0) end
    local value
    if nxt[1] == "{" then
      value, pos = parse_message(tokens, pos + 1, path, true)
    elseif nxt[1] == "string" then
      value, pos = nxt[3], pos + 1
    elseif nxt[1] == "word" then
      value = tonumber(nxt[3])
      if value == nil then
        if nxt[3] == "true" then value = true
        elseif nxt[3] == "false" then value = false
        else value = nxt[3] end
      end
      pos = pos + 1
    else
      error(("%s:%d: bad value for %s"):format(path, nxt[2], key), 0)
    end
    msg[key] = msg[key] or {}
    table.insert(msg[key], value)
  end
end

-- The first value of a repeated text-format field, or default.
local function first(msg, key, default)
  local v = msg and msg[key]
  if v == nil then return default end
  return v[1]
end
caffe.first = first

function caffe.read_prototxt(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local ok, msg = pcall(function()
    local tokens = tokenize(text, path)
    return (parse_message(tokens, 1, path, false))
  end)
  if not ok then return nil, msg end
  local net = {name = first(msg, "name"), inputs = msg.input or {}, input_dims = msg.input_dim or {},
               layers = {}}
  if type(net.name) == "table" then
    return nil, path .. ": the net's name is a message, not a string"
  end
  for i, l in ipairs(msg.layer or msg.layers or {}) do
    -- a layer is a message of strings; anything else is refused here rather than failing later
    if type(l) ~= "table" then
      return nil, ("%s: layer %d is a value (%s), not a { ... } message"):format(path, i,
        tostring(l))
    end
    for _, key in ipairs({"name", "type", "bottom", "top"}) do
      for _, v in ipairs(l[key] or {}) do
        if type(v) == "table" then
          return nil, ("%s: layer %d: %s is a message, not a string"):format(path, i, key)
        end
      end
    end
    net.layers[#net.layers + 1] = {
      name = first(l, "name"), type = first(l, "type"),
      bottom = l.bottom or {}, top = l.top or {}, params = l,
    }
  end
  if #net.layers == 0 then return nil, path .. ": no layers found (not a prototxt?)" end
  return net
end

return caffe

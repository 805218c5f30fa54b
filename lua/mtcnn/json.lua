-- mtcnn.json: JSON encoding and decoding for reports, JSON Lines outputs and
-- manifests.
--
--   json.encode(value [, opts]) -> string   opts.indent = "  " pretty-prints
--   json.decode(text) -> value | nil, message (with line and column)
--   json.null                               decoded JSON null (a unique value)
--   json.object([t])                        marks t (or a new table) as an object,
--                                           so that an empty one encodes as {}
--   json.ordered(t, {"k1", "k2", ...})      encodes t's keys in this order first
--   json.number_text(v)                     a finite number as encode writes it
--
-- Arrays are tables with keys 1..n only; other tables are objects with keys
-- sorted (or in the order given to json.ordered). Integers print as
-- integers, other numbers with the fewest digits that read back exactly;
-- NaN and infinities, which JSON cannot hold, become null.

local json = {}

json.null = setmetatable({}, {__tostring = function() return "null" end, __name = "json.null"})

local OBJECT = {} -- marker key in the metatable of objects
local ORDER = {}  -- key order, in the metatable of ordered objects

function json.object(t)
  t = t or {}
  local mt = getmetatable(t) or {}
  mt[OBJECT] = true
  return setmetatable(t, mt)
end

function json.ordered(t, keys)
  local mt = getmetatable(t) or {}
  mt[OBJECT] = true
  mt[ORDER] = keys
  return setmetatable(t, mt)
end

-- ---- encoding -------------------------------------------------------------------------------

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

--- json.number_text(v): v as encode writes a finite number: integers without a fraction,
--- others with the fewest digits that read back as the same double (also used by the
--- evaluators' text files).
function json.number_text(v)
  if math.type(v) == "integer" then return ("%d"):format(v) end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(math.tointeger(v)) end
  for digits = 14, 17 do
    local s = ("%." .. digits .. "g"):format(v)
    if tonumber(s) == v then return s end
  end
  return ("%.17g"):format(v)
end

local function encode_number(v)
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  return json.number_text(v)
end

local function is_array(t)
  local mt = getmetatable(t)
  if mt and mt[OBJECT] then return false end
  local n = #t
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local encode_value

local function object_keys(t)
  local mt = getmetatable(t)
  local keys, seen = {}, {}
  if mt and mt[ORDER] then
    for _, k in ipairs(mt[ORDER]) do
      if t[k] ~= nil then
        keys[#keys + 1] = k
        seen[k] = true
      end
    end
  end
  local rest = {}
  for k in pairs(t) do
    if not seen[k] then
      if type(k) ~= "string" and type(k) ~= "number" then
        error("json.encode: object key of type " .. type(k), 0)
      end
      rest[#rest + 1] = k
    end
  end
  table.sort(rest, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return keys
end

encode_value = function(v, indent, depth, stack)
  local kind = type(v)
  if v == nil or v == json.null then return "null" end
  if kind == "boolean" then return v and "true" or "false" end
  if kind == "number" then return encode_number(v) end
  if kind == "string" then return encode_string(v) end
  if kind ~= "table" then error("json.encode: cannot encode a " .. kind, 0) end
  if stack[v] then error("json.encode: the table refers to itself", 0) end
  stack[v] = true
  local nl, pad, inner = "", "", ""
  if indent then
    nl = "\n"
    pad = indent:rep(depth)
    inner = indent:rep(depth + 1)
  end
  local parts = {}
  local out
  if is_array(v) then
    for i = 1, #v do parts[i] = inner .. encode_value(v[i], indent, depth + 1, stack) end
    out = #parts == 0 and "[]" or ("[" .. nl .. table.concat(parts, "," .. nl) .. nl .. pad .. "]")
  else
    local sep = indent and ": " or ":"
    for _, k in ipairs(object_keys(v)) do
      parts[#parts + 1] = inner .. encode_string(tostring(k)) .. sep ..
        encode_value(v[k], indent, depth + 1, stack)
    end
    out = #parts == 0 and "{}" or ("{" .. nl .. table.concat(parts, "," .. nl) .. nl .. pad .. "}")
  end
  stack[v] = nil
  return out
end

function json.encode(value, opts)
  return encode_value(value, opts and opts.indent, 0, {})
end

-- ---- decoding -------------------------------------------------------------------------------

local function position(text, i)
  local line, col = 1, 1
  for p = 1, i - 1 do
    if text:byte(p) == 10 then
      line, col = line + 1, 1
    else
      col = col + 1
    end
  end
  return line, col
end

local function fail(text, i, msg)
  local line, col = position(text, i)
  error({json_error = ("%s at line %d, column %d"):format(msg, line, col)}, 0)
end

local function skip(text, i)
  return text:find("[^ \t\r\n]", i) or #text + 1
end

local function utf8_char(code)
  return utf8.char(code)
end

local decode_value

local function decode_string(text, i)
  -- i is at the opening quote
  local parts = {}
  local j = i + 1
  while true do
    local a, b = text:find('["\\%c]', j)
    if not a then fail(text, i, "unterminated string") end
    parts[#parts + 1] = text:sub(j, a - 1)
    local c = text:sub(a, a)
    if c == '"' then return table.concat(parts), b + 1 end
    if c ~= "\\" then fail(text, a, "control character in string") end
    local e = text:sub(a + 1, a + 1)
    local simple = ({['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
      r = "\r", t = "\t"})[e]
    if simple then
      parts[#parts + 1] = simple
      j = a + 2
    elseif e == "u" then
      local hex = text:match("^%x%x%x%x", a + 2)
      if not hex then fail(text, a, "bad \\u escape") end
      local code = tonumber(hex, 16)
      j = a + 6
      if code >= 0xD800 and code <= 0xDBFF then
        local low = text:match("^\\u(%x%x%x%x)", j)
        local lc = low and tonumber(low, 16)
        if not lc or lc < 0xDC00 or lc > 0xDFFF then fail(text, a, "unpaired surrogate") end
        code = 0x10000 + (code - 0xD800) * 0x400 + (lc - 0xDC00)
        j = j + 6
      end
      parts[#parts + 1] = utf8_char(code)
    else
      fail(text, a, "bad escape")
    end
  end
end

local function decode_number(text, i)
  local s = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not s or s == "" or s == "-" then fail(text, i, "bad number") end
  local v = math.tointeger(tonumber(s)) or tonumber(s)
  if v == nil then fail(text, i, "bad number") end
  return v, i + #s
end

decode_value = function(text, i, depth)
  if depth > 512 then fail(text, i, "nested too deeply") end
  i = skip(text, i)
  local c = text:sub(i, i)
  if c == "{" then
    local obj = json.object()
    i = skip(text, i + 1)
    if text:sub(i, i) == "}" then return obj, i + 1 end
    while true do
      if text:sub(i, i) ~= '"' then fail(text, i, "expected a string key") end
      local key
      key, i = decode_string(text, i)
      i = skip(text, i)
      if text:sub(i, i) ~= ":" then fail(text, i, "expected ':'") end
      obj[key], i = decode_value(text, i + 1, depth + 1)
      i = skip(text, i)
      local d = text:sub(i, i)
      if d == "}" then return obj, i + 1 end
      if d ~= "," then fail(text, i, "expected ',' or '}'") end
      i = skip(text, i + 1)
    end
  elseif c == "[" then
    local arr = {}
    i = skip(text, i + 1)
    if text:sub(i, i) == "]" then return arr, i + 1 end
    while true do
      arr[#arr + 1], i = decode_value(text, i, depth + 1)
      i = skip(text, i)
      local d = text:sub(i, i)
      if d == "]" then return arr, i + 1 end
      if d ~= "," then fail(text, i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return decode_string(text, i)
  elseif c == "-" or c:match("%d") then
    return decode_number(text, i)
  elseif text:sub(i, i + 3) == "true" then
    return true, i + 4
  elseif text:sub(i, i + 4) == "false" then
    return false, i + 5
  elseif text:sub(i, i + 3) == "null" then
    return json.null, i + 4
  elseif c == "" then
    fail(text, i, "unexpected end of input")
  end
  fail(text, i, "unexpected character '" .. c .. "'")
end

function json.decode(text)
  if type(text) ~= "string" then return nil, "json.decode: expected a string" end
  local ok, value, i = pcall(decode_value, text, 1, 0)
  if not ok then
    if type(value) == "table" and value.json_error then return nil, value.json_error end
    error(value, 0)
  end
  i = skip(text, i)
  if i <= #text then
    local line, col = position(text, i)
    return nil, ("trailing characters at line %d, column %d"):format(line, col)
  end
  return value
end

--- Reads and decodes a JSON file: value | nil, "path: message".
function json.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local value, msg = json.decode(text)
  if value == nil then return nil, path .. ": " .. msg end
  return value
end

return json

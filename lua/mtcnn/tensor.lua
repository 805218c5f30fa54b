-- mtcnn.tensor: float32 tensors of up to 4 dimensions on the CPU or a GPU.
--
-- The arithmetic, views and reductions are C functions (lua/bind/lmt_tensor.c);
-- this file adds printing in the style of Torch7 and small conveniences.

local core = require "mtcnn.core"

local T = core.tensor
local meta = T.metatable
local methods = meta.methods

-- Tensors with more elements than this print abbreviated: the first and
-- last EDGE entries of each dimension, with "..." between.
local SUMMARY_THRESHOLD = 1000
local EDGE = 3

-- The indices to show along a dimension of size n (0 marks the gap).
local function shown_indices(n, summarise)
  local idx = {}
  if summarise and n > 2 * EDGE then
    for i = 1, EDGE do idx[#idx + 1] = i end
    idx[#idx + 1] = 0
    for i = n - EDGE + 1, n do idx[#idx + 1] = i end
  else
    for i = 1, n do idx[#idx + 1] = i end
  end
  return idx
end

-- One number format for every shown value, chosen from their range.
local function number_format(values)
  local all_int, max_abs, min_abs = true, 0, math.huge
  for _, v in ipairs(values) do
    if v ~= v or v == math.huge or v == -math.huge then
      all_int = false
    else
      local a = math.abs(v)
      if a > max_abs then max_abs = a end
      if a > 0 and a < min_abs then min_abs = a end
      if v ~= math.floor(v) then all_int = false end
    end
  end
  local fmt
  if all_int and max_abs < 1e9 then
    fmt = "%d"
  elseif max_abs < 1e5 and (min_abs >= 1e-4 or min_abs == math.huge) then
    fmt = "%.4f"
  else
    fmt = "%.4e"
  end
  local function render(v)
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    if fmt == "%d" then return ("%d"):format(math.tointeger(v) or v) end
    return fmt:format(v)
  end
  local width = 0
  for _, v in ipairs(values) do
    local w = #render(v)
    if w > width then width = w end
  end
  return function(v) return (" "):rep(width - #render(v)) .. render(v) end, width
end

local function shape_string(t)
  local s = t:size()
  if #s == 0 then return "scalar" end
  local parts = {}
  for i, d in ipairs(s) do parts[i] = tostring(d) end
  return table.concat(parts, "x")
end

local function footer(t)
  local where = t:is_cuda() and " on cuda" or ""
  return ("[mtcnn.Tensor of size %s%s]"):format(shape_string(t), where)
end

-- Renders the matrix formed by the last two dimensions at a fixed outer index.
local function render_matrix(c, outer, rows, cols, fmt, width, lines)
  local n = #outer
  for _, i in ipairs(rows) do
    if i == 0 then
      lines[#lines + 1] = " ..."
    else
      local cells = {}
      for _, j in ipairs(cols) do
        if j == 0 then
          cells[#cells + 1] = (" "):rep(math.max(width - 3, 0)) .. "..."
        else
          local index = {table.unpack(outer, 1, n)}
          index[n + 1] = i
          index[n + 2] = j
          cells[#cells + 1] = fmt(c:get(table.unpack(index)))
        end
      end
      lines[#lines + 1] = " " .. table.concat(cells, "  ")
    end
  end
end

local function tensor_tostring(t)
  local size = t:size()
  local ndim = #size
  if t:numel() == 0 then return footer(t) end
  local c = t:cpu()
  local summarise = t:numel() > SUMMARY_THRESHOLD
  local per_dim = {}
  for d = 1, ndim do per_dim[d] = shown_indices(size[d], summarise) end
  if ndim == 0 then return tostring(c:to_table()) .. "\n" .. footer(t) end

  -- gather the shown values to choose one format
  local values = {}
  local function gather(d, index)
    if d > ndim then
      values[#values + 1] = c:get(table.unpack(index))
      return
    end
    for _, i in ipairs(per_dim[d]) do
      if i ~= 0 then
        index[d] = i
        gather(d + 1, index)
      end
    end
    index[d] = nil
  end
  gather(1, {})
  local fmt, width = number_format(values)

  local lines = {}
  if ndim == 1 then
    -- a column, as Torch7 prints vectors
    for _, i in ipairs(per_dim[1]) do
      lines[#lines + 1] = i == 0 and " ..." or (" " .. fmt(c:get(i)))
    end
  elseif ndim == 2 then
    render_matrix(c, {}, per_dim[1], per_dim[2], fmt, width, lines)
  else
    -- one matrix per index of the leading dimensions, headed "(i,j,.,.) = "
    local lead = ndim - 2
    local function walk(d, outer)
      if d > lead then
        local head = {}
        for k = 1, lead do head[k] = tostring(outer[k]) end
        lines[#lines + 1] = "(" .. table.concat(head, ",") .. ",.,.) = "
        render_matrix(c, outer, per_dim[ndim - 1], per_dim[ndim], fmt, width, lines)
        lines[#lines + 1] = ""
        return
      end
      for _, i in ipairs(per_dim[d]) do
        if i == 0 then
          lines[#lines + 1] = "..."
          lines[#lines + 1] = ""
        else
          outer[d] = i
          walk(d + 1, outer)
        end
      end
      outer[d] = nil
    end
    walk(1, {})
  end
  lines[#lines + 1] = footer(t)
  return table.concat(lines, "\n")
end

meta.__tostring = tensor_tostring

--- t:type() -> "mtcnn.Tensor"
function methods.type() return "mtcnn.Tensor" end

--- t:shape() -> {d1, ..., dn} (same as t:size())
function methods.shape(t) return t:size() end

--- T.cat(list, dim): concatenation of same-device tensors along dim (1-based).
function T.cat(list, dim)
  assert(type(list) == "table" and #list > 0, "cat: expected a non-empty list of tensors")
  dim = dim or 1
  local first = list[1]
  local ndim = first:dim()
  if dim < 0 then dim = dim + ndim + 1 end
  assert(dim >= 1 and dim <= ndim, ("cat: dimension %d out of range 1..%d"):format(dim, ndim))
  local size = first:size()
  local total = 0
  for k, t in ipairs(list) do
    assert(T.is_tensor(t), ("cat: entry %d is not a tensor"):format(k))
    local s = t:size()
    if #s ~= ndim then
      error(("cat: entry %d has %d dimensions, entry 1 has %d"):format(k, #s, ndim), 2)
    end
    for d = 1, ndim do
      if d ~= dim and s[d] ~= size[d] then
        error(("cat: entry %d has size %s, entry 1 has %s (they may differ only in dimension %d)")
          :format(k, shape_string(t), shape_string(first), dim), 2)
      end
    end
    total = total + s[dim]
  end
  size[dim] = total
  local out = T.empty(size)
  if first:is_cuda() then out = out:cuda() end
  local at = 1
  for _, t in ipairs(list) do
    local n = t:size(dim)
    if n > 0 then out:narrow(dim, at, n):copy_(t) end
    at = at + n
  end
  return out
end

return T

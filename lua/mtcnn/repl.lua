-- mtcnn.repl: what the host's interactive session adds to plain Lua: completion of Lua names
-- (readline's hook calls repl.complete), a printer that shows tables (limited in depth and
-- length; faces as their box and score), help(x) from the modules' doc comments, and the
-- banner.
--
--   > faces = det:detect("photo.jpg")
--   > faces                  -- {[1] = {box = {181.2, 59.3, 267.3, 173.7}, score = 0.9994, ...}}
--   > help(mtcnn.detector)   -- the module's header and its functions
--   > help(det.detect)       -- the comment above the function
--
-- The functions also work outside the REPL: repl.format(v) is the text repl.show prints.

local repl = {}

repl.MAX_DEPTH = 3    -- nested tables deeper than this print as {...}
repl.MAX_ITEMS = 24   -- entries shown per table
repl.WIDTH = 96       -- a table fits on one line up to this width, else one entry a line

local KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until",
  "while"}

local function home()
  local ok, m = pcall(require, "mtcnn")
  return ok and m.home or "."
end

-- ---- completion -----------------------------------------------------------------------------

-- The names a value offers after "." (or ":"): a table's keys and a lazy table's submodules,
-- then what its metatable's __index gives (a table, followed up the chain; the methods and
-- getters of the C classes).
local function fields(v, out, depth)
  depth = depth or 0
  if depth > 8 then return end
  if type(v) == "table" then
    for k in next, v do
      if type(k) == "string" then out[k] = rawget(v, k) end
    end
  end
  local mt = getmetatable(v)
  if type(mt) ~= "table" then return end
  for _, name in ipairs(rawget(mt, "__submodules") or {}) do
    if out[name] == nil then out[name] = true end
  end
  local index = rawget(mt, "__index")
  if type(index) == "table" and index ~= v then
    fields(index, out, depth + 1)
  elseif type(index) == "function" then
    if type(rawget(mt, "methods")) == "table" then fields(rawget(mt, "methods"), out, depth + 1) end
    for i = 1, 4 do -- the getter tables a C class keeps as upvalues of its __index
      local name, up = debug.getupvalue(index, i)
      if name == nil then break end
      if type(up) == "table" and up ~= v then
        for k, f in pairs(up) do
          if type(k) == "string" and type(f) == "function" and out[k] == nil then out[k] = f end
        end
      end
    end
  end
end

-- Is position pos of line inside a string literal (an odd number of unescaped quotes)?
local function in_string(line, pos)
  local quote, i = nil, 1
  while i <= pos do
    local ch = line:sub(i, i)
    if quote then
      if ch == "\\" then i = i + 1 elseif ch == quote then quote = nil end
    elseif ch == '"' or ch == "'" then
      quote = ch
    end
    i = i + 1
  end
  return quote ~= nil
end

--- repl.complete(line, start, stop [, env]) -> the completions of the word line[start+1..stop]
--- (readline's 0-based offsets), sorted; nil inside a string literal (then file names are
--- completed). A word is a dotted name: "mtcnn.det" gives "mtcnn.detector"; after ":" only
--- methods (functions) are offered.
function repl.complete(line, start, stop, env)
  env = env or _G
  if in_string(line, start) then return nil end
  local text = line:sub(start + 1, stop)
  local base, sep, partial = text:match("^(.*)([.:])([%w_]*)$")
  if not base then base, sep, partial = nil, "", text end
  if not partial:match("^[%a_]?[%w_]*$") then return {} end
  local names = {}
  if base == nil then
    fields(env, names)
    for _, k in ipairs(KEYWORDS) do names[k] = names[k] or true end
  else
    if base == "" or base:find(":", 1, true) then return {} end
    local v = env
    for part in (base .. "."):gmatch("([^.]*)%.") do
      if not part:match("^[%a_][%w_]*$") then return {} end
      local ok, nv = pcall(function() return v[part] end)
      if not ok or nv == nil then return {} end
      v = nv
    end
    fields(v, names)
    if sep == ":" then
      -- methods: functions, looked up through the value itself (metatables included)
      for k in pairs(names) do
        local ok, f = pcall(function() return v[k] end)
        if not ok or type(f) ~= "function" then names[k] = nil end
      end
    end
  end
  local out = {}
  for k in pairs(names) do
    if k:sub(1, #partial) == partial and k:match("^[%a_][%w_]*$") and
       (partial:sub(1, 1) == "_" or k:sub(1, 1) ~= "_") then
      out[#out + 1] = (base and (base .. sep) or "") .. k
    end
  end
  table.sort(out)
  return out
end

-- ---- the printer ----------------------------------------------------------------------------

local function number_text(x, digits)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x or x == math.huge or x == -math.huge then return tostring(x) end
  if digits then return (("%." .. digits .. "f"):format(x)) end
  local s = ("%.6g"):format(x)
  if not s:find("[.eni]") then s = s .. ".0" end
  return s
end

local function is_identifier(k)
  if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then return false end
  for _, kw in ipairs(KEYWORDS) do if kw == k then return false end end
  return true
end

local function key_text(k)
  if is_identifier(k) then return k end
  if type(k) == "string" then return ("[%q]"):format(k) end
  return "[" .. (type(k) == "number" and number_text(k) or tostring(k)) .. "]"
end

-- A face: a box of four numbers and a score.
local function is_face(v)
  return type(v) == "table" and type(v.box) == "table" and #v.box == 4 and
    type(v.box[1]) == "number" and type(v.score) == "number" and getmetatable(v) == nil
end

local function face_text(f)
  local b = {}
  for k = 1, 4 do b[k] = number_text(f.box[k], 1) end
  local parts = {("box = {%s}"):format(table.concat(b, ", ")),
                 "score = " .. ("%.6g"):format(f.score)}
  if type(f.landmarks) == "table" then
    parts[#parts + 1] = ("landmarks = <%d points>"):format(#f.landmarks)
  end
  for k, v in pairs(f) do -- anything else a face carries
    if k ~= "box" and k ~= "score" and k ~= "landmarks" then
      parts[#parts + 1] = key_text(k) .. " = " .. (type(v) == "number" and number_text(v) or tostring(v))
    end
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- The loaded module a table is, by identity ("mtcnn.detector"), or nil.
local function module_name(t)
  for name, m in pairs(package.loaded) do
    if m == t and type(name) == "string" and name ~= "_G" then return name end
  end
  return nil
end

-- One line for a value that is not expanded: userdata, functions, a tensor's last line.
local function short(v)
  local s = tostring(v)
  if s:find("\n", 1, true) then
    local last
    for line in s:gmatch("[^\n]+") do
      if line:match("%S") then last = line end
    end
    s = "<" .. (last or ""):gsub("^%[", ""):gsub("%]$", "") .. ">"
  end
  return s
end

local format

-- The entries of a table in order: the list part, then the other keys sorted by their text.
local function entries(t)
  local keys, n = {}, 0
  local lazy = getmetatable(t) and rawget(getmetatable(t), "__submodules")
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local others = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then others[#others + 1] = k end
  end
  for _, name in ipairs(type(lazy) == "table" and lazy or {}) do
    if rawget(t, name) == nil then others[#others + 1] = name end
  end
  table.sort(others, function(a, b)
    if type(a) ~= type(b) then return type(a) < type(b) end
    if type(a) == "number" or type(a) == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  for i = 1, n do keys[i] = i end
  for _, k in ipairs(others) do keys[#keys + 1] = k end
  return keys, n
end

-- The text of a table at nesting depth, with indent for its multi-line form.
local function table_text(t, depth, indent, seen)
  if is_face(t) then return face_text(t) end
  if seen[t] then return "<cycle>" end
  local mod = depth > 0 and module_name(t)
  if mod then return ("<module %s>"):format(mod) end
  local keys, n = entries(t)
  if #keys == 0 then return "{}" end
  if depth >= repl.MAX_DEPTH then
    return ("{... %d %s}"):format(#keys, #keys == 1 and "entry" or "entries")
  end
  seen[t] = true
  local all_faces = n > 0 and #keys == n
  for i = 1, n do
    if not is_face(rawget(t, i)) then all_faces = false end
  end
  local items = {}
  local shown = math.min(#keys, repl.MAX_ITEMS)
  for i = 1, shown do
    local k = keys[i]
    local v = rawget(t, k)
    local vt = v == nil and "<submodule, not loaded>" or format(v, depth + 1, indent .. "  ", seen)
    if all_faces then
      items[i] = ("[%d] = %s"):format(k, vt)      -- a list of faces: numbered, one a line
    elseif math.type(k) == "integer" and k <= n then
      items[i] = vt
    else
      items[i] = key_text(k) .. " = " .. vt
    end
  end
  seen[t] = nil
  if #keys > shown then items[#items + 1] = ("... (%d more)"):format(#keys - shown) end
  local one = "{" .. table.concat(items, ", ") .. "}"
  if #one + #indent <= repl.WIDTH and not one:find("\n", 1, true) and not (all_faces and n > 1) then
    return one
  end
  return "{\n" .. indent .. "  " .. table.concat(items, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
end

format = function(v, depth, indent, seen)
  local ty = type(v)
  if ty == "string" then return depth == 0 and v or ("%q"):format(v):gsub("\\\n", "\\n") end
  if ty == "number" then return depth == 0 and tostring(v) or number_text(v) end
  if ty == "table" then
    local mt = getmetatable(v)
    if mt and rawget(mt, "__tostring") then return depth == 0 and tostring(v) or short(v) end
    return table_text(v, depth, indent, seen)
  end
  if ty == "function" then
    local info = debug.getinfo(v, "S")
    if info.what == "C" then return "<C function>" end
    return ("<function %s:%d>"):format(info.short_src:match("[^/]*$"), info.linedefined)
  end
  if depth == 0 then return tostring(v) end
  return short(v)
end

--- repl.format(v) -> the text the REPL shows for v: strings and numbers as print shows them,
--- values with __tostring (tensors, images, modules) by it, tables as Lua-like text at most
--- repl.MAX_DEPTH deep and repl.MAX_ITEMS long, faces as their box and score.
function repl.format(v)
  return format(v, 0, "", {})
end

--- repl.show(...) prints the values as repl.format writes them, separated by tabs.
function repl.show(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = repl.format((select(i, ...))) end
  io.write(table.concat(parts, "\t"), "\n")
  io.flush()
end

-- ---- help -----------------------------------------------------------------------------------

local function read_lines(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

-- The comment block right above line n (the lines starting with "--", nearest first up).
local function comment_above(lines, n)
  local first = n
  while first > 1 and lines[first - 1]:match("^%s*%-%-") do first = first - 1 end
  local out = {}
  for i = first, n - 1 do out[#out + 1] = (lines[i]:gsub("^%s*%-%-%-?%s?", "")) end
  return out
end

-- The file header: the first block of "--" lines.
local function header(lines)
  local out = {}
  for _, l in ipairs(lines) do
    if not l:match("^%-%-") then break end
    out[#out + 1] = (l:gsub("^%-%-%s?", ""))
  end
  return out
end

local function module_file(name)
  return package.searchpath(name, package.path)
end

-- "name(args)" from a definition line "function mod.name(args)" or "function mod:name(args)".
local function signature(line)
  local sep, name, params = line:match("function%s+[%w_.]-([.:]?)([%w_]+)%s*(%b())")
  if not name then return nil end
  return (sep == ":" and ":" or "") .. name .. params
end

-- The documentation of a Lua function: its comment and its definition line.
local function function_doc(f)
  local info = debug.getinfo(f, "S")
  if info.what == "C" then return nil end
  local path = info.source:match("^@(.*)$")
  local lines = path and read_lines(path)
  if not lines or not lines[info.linedefined] then return nil end
  local out = comment_above(lines, info.linedefined)
  out[#out + 1] = lines[info.linedefined]:gsub("^%s+", "") .. "   (" .. info.short_src .. ":" ..
    info.linedefined .. ")"
  return table.concat(out, "\n")
end

-- Where a C function is reachable from: its name, and the name of the module or class that
-- holds it ("mtcnn.image", "mtcnn.Tensor").
local function c_function_name(f)
  local function find(t)
    for k, v in next, t do
      if v == f and type(k) == "string" then return k end
    end
    return nil
  end
  for owner, m in pairs(package.loaded) do
    if type(m) == "table" and type(owner) == "string" then
      local k = find(m)
      if k then return k, owner end
    end
  end
  for _, mt in pairs(debug.getregistry()) do
    if type(mt) == "table" and type(rawget(mt, "methods")) == "table" and
       type(rawget(mt, "__name")) == "string" then
      local k = find(mt.methods)
      if k then return k, mt.__name end
    end
  end
  return nil
end

-- The comment of a C binding: the comment lines of lua/bind/*.c naming "x.name(" or
-- "x:name("; when several do, those whose x starts as the owner's last word does (image.load
-- and img:crop for mtcnn.image, T.load and t:view for mtcnn.tensor).
local function c_doc(name, owner)
  local dir = home() .. "/lua/bind"
  local files = {}
  local ok, sys = pcall(require, "mtcnn.sys")
  for _, f in ipairs(ok and sys.listdir(dir) or {}) do
    if f:match("%.c$") then files[#files + 1] = dir .. "/" .. f end
  end
  local found = {}
  for _, path in ipairs(files) do
    for _, l in ipairs(read_lines(path) or {}) do
      local c = l:match("^%s*/?%*%s*(.-)%s*%*?/?%s*$")
      if c and l:match("^%s*/?%*") and (c:find("[.:]" .. name .. "%(") or c:find("^" .. name .. "%(")) then
        found[#found + 1] = c
      end
    end
  end
  if #found == 0 then return nil end
  local initial = (owner or ""):match("([%w_])[%w_]*$")
  if #found > 1 and initial then
    local mine = {}
    for _, c in ipairs(found) do
      local x = c:match("^([%w_]+)[.:]" .. name .. "%(")
      if x and x:sub(1, 1):lower() == initial:lower() then mine[#mine + 1] = c end
    end
    if #mine > 0 then found = mine end
  end
  return table.concat(found, "\n")
end

-- The functions of a module table with the first line of each one's documentation.
local function function_list(t, lines_of_file)
  local names = {}
  for k, v in next, t do
    if type(k) == "string" and type(v) == "function" and k:sub(1, 1) ~= "_" then names[#names + 1] = k end
  end
  table.sort(names)
  local out = {}
  for _, k in ipairs(names) do
    local f = t[k]
    local info = debug.getinfo(f, "S")
    local sig, first = k .. "(...)", ""
    if info.what ~= "C" then
      local lines = lines_of_file(info.source:match("^@(.*)$"))
      local def = lines and lines[info.linedefined]
      sig = def and signature(def) or sig
      local doc = lines and comment_above(lines, info.linedefined) or {}
      first = doc[1] or ""
    end
    local line = ("  %-30s %s"):format(sig, first)
    if #line > repl.WIDTH then line = line:sub(1, repl.WIDTH - 3) .. "..." end
    out[#out + 1] = line
  end
  return out
end

local function module_doc(name, t)
  local path = module_file(name)
  local cache = {}
  local function lines_of(p)
    if not p then return nil end
    cache[p] = cache[p] or read_lines(p) or false
    return cache[p] or nil
  end
  local out = {}
  local head = path and header(lines_of(path) or {}) or {}
  for _, l in ipairs(head) do out[#out + 1] = l end
  if #out == 0 then out[1] = name end
  local fns = function_list(t, lines_of)
  if #fns > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "functions (help(" .. name:gsub("^mtcnn%.", "mtcnn.") .. ".NAME) for one):"
    for _, l in ipairs(fns) do out[#out + 1] = l end
  end
  local mt = getmetatable(t)
  local subs = mt and rawget(mt, "__submodules")
  if subs then
    out[#out + 1] = ""
    out[#out + 1] = "submodules: " .. table.concat(subs, ", ")
  end
  return table.concat(out, "\n")
end

--- repl.doc(x) -> the documentation of x as text, or nil: a module (or its name, "detector" or
--- "mtcnn.detector"): its header comment and its functions; an object: its class's module;
--- a Lua function: the comment above its definition; a C function: its binding's comment;
--- a tensor or image: its methods.
function repl.doc(x)
  if type(x) == "string" then
    for _, name in ipairs({x, "mtcnn." .. x}) do
      local ok, m = pcall(require, name)
      if ok and type(m) == "table" then return module_doc(name, m) end
    end
    return nil
  end
  if type(x) == "function" then
    local d = function_doc(x)
    if d then return d end
    local name, owner = c_function_name(x)
    return name and (c_doc(name, owner) or (name .. ": a C function (see docs/ and README.md)")) or nil
  end
  if type(x) == "table" then
    local name = module_name(x)
    if name then return module_doc(name, x) end
    local mt = getmetatable(x)
    local index = mt and rawget(mt, "__index")
    local cls = type(index) == "table" and module_name(index)
    if cls then
      local cache = {}
      local fns = function_list(index, function(p)
        if not p then return nil end
        cache[p] = cache[p] or read_lines(p) or false
        return cache[p] or nil
      end)
      return ("an object of %s (help(\"%s\") for the module); its functions:\n%s"):format(cls, cls,
        table.concat(fns, "\n"))
    end
    return nil
  end
  local mt = getmetatable(x)
  if type(mt) == "table" and type(rawget(mt, "methods")) == "table" then
    local names = {}
    for k in pairs(mt.methods) do names[#names + 1] = k end
    table.sort(names)
    local out = {("%s: methods (help(x.NAME) for one):"):format(tostring(rawget(mt, "__name")))}
    local line = " "
    for _, k in ipairs(names) do
      if #line + #k + 1 > 92 then
        out[#out + 1] = line
        line = " "
      end
      line = line .. " " .. k
    end
    out[#out + 1] = line
    return table.concat(out, "\n")
  end
  return nil
end

--- help([x]): prints repl.doc(x); without x, how to find things.
function repl.help(...)
  if select("#", ...) == 0 then
    print(table.concat({
      "help(x) shows the documentation of x: a module (help(mtcnn.detector), help(\"image\")),",
      "a function (help(mtcnn.detector.new), help(det.detect)), an object (help(det)) or a",
      "tensor or image (its methods). Tab completes names: mtcnn.de<Tab>, det:<Tab>.",
      "The modules: " .. table.concat(getmetatable(require("mtcnn")).__submodules, ", ") .. ".",
      "README.md and docs/ describe everything; mtcnn --help lists the commands.",
    }, "\n"))
    return
  end
  local x = ...
  local d = repl.doc(x)
  print(d or ("help: no documentation found for " .. repl.format(x)))
end

--- The banner of the interactive session (after the version line).
function repl.banner()
  return table.concat({
    "The mtcnn modules are loaded. Try:",
    "  det = mtcnn.detector.new()",
    ("  faces = det:detect(%q)"):format(home() .. "/examples/astronaut.png"),
    "  faces",
    "help(x) documents x, Tab completes names; Ctrl-C interrupts, Ctrl-D quits.",
  }, "\n")
end

return repl

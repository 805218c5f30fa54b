-- mtcnn.config: the settings of a training stage (sample generation, merging, training) as
-- one documented table per stage (pnet.lua, rnet.lua, onet.lua in this folder), changed by a
-- config file, flags and --set, and written next to the outputs of a run.
--
--   local config = require "mtcnn.config"
--   local cfg = config.defaults("pnet")          -- {detection = {...}, landmark = {...}, ...}
--   cfg.detection.neg_iou = 0.25                  -- a script of one's own may change it directly
--   -- in a command-line script:
--   local spec = {options = config.options("pnet", {"detection"})}  -- --neg-iou, ..., --config, --set
--   local args = cli.parse(arg, spec)
--   local cfg = assert(config.resolve("pnet", args, {"detection"}))
--   assert(config.write(cfg, out_dir .. "/config.lua", "pnet"))   -- what the run used
--
-- Order of precedence, later wins: the defaults, --config FILE (a Lua file returning a table,
-- either by section {train = {epochs = 20}} or flat {epochs = 20}), the flags named after the
-- keys (--epochs 20; underscores become dashes), then each --set KEY=VALUE (KEY is "epochs"
-- or "train.epochs"). Unknown keys and values of the wrong type or range are errors that
-- name where they came from.

local config = {}

local STAGES = {pnet = true, rnet = true, onet = true}
local cache = {}

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end

--- config.copy(v) -> a deep copy of a settings value (tables copied, others as they are).
config.copy = copy

--- config.schema(stage) -> {stage, sections = {{name, script, help, entries = {{key, default,
--- help, check}, ...}}, ...}, by_key = {key = {entry, section}}} (shared; do not modify).
function config.schema(stage)
  if not STAGES[stage] then
    error(("config: unknown stage '%s' (pnet, rnet, onet)"):format(tostring(stage)), 2)
  end
  if cache[stage] then return cache[stage] end
  local file = require("mtcnn.config." .. stage)
  local schema
  if file.base then
    schema = copy(config.schema(file.base))
    schema.stage = stage
    for _, sec in ipairs(schema.sections) do
      for _, e in ipairs(sec.entries) do
        if file.defaults[e[1]] ~= nil then e[2] = file.defaults[e[1]] end
      end
    end
    for k in pairs(file.defaults) do
      if not schema.by_key[k] then error(("config/%s.lua: unknown key '%s'"):format(stage, k)) end
    end
  else
    schema = copy(file)
  end
  schema.by_key = {} -- (a derived stage's copy is rebuilt too: its entries are new tables)
  for _, sec in ipairs(schema.sections) do
    for _, e in ipairs(sec.entries) do
      assert(not schema.by_key[e[1]], "config: key " .. e[1] .. " appears twice")
      schema.by_key[e[1]] = {entry = e, section = sec.name}
    end
  end
  cache[stage] = schema
  return schema
end

--- config.defaults(stage) -> a fresh table {section = {key = value}}.
function config.defaults(stage)
  local cfg = {}
  for _, sec in ipairs(config.schema(stage).sections) do
    local t = {}
    for _, e in ipairs(sec.entries) do t[e[1]] = copy(e[2]) end
    cfg[sec.name] = t
  end
  return cfg
end

-- The closest key to a misspelt one (for "did you mean").
local function closest(schema, key)
  local best, best_d
  for k in pairs(schema.by_key) do
    -- a small edit distance
    local a, b = key, k
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
      local cur = {[0] = i}
      for j = 1, #b do
        local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev = cur
    end
    if not best_d or prev[#b] < best_d then best, best_d = k, prev[#b] end
  end
  if best_d and best_d <= math.max(2, #key // 3) then return best end
end

local function unknown(schema, key, where)
  local hint = closest(schema, key)
  return ("%s: unknown setting '%s'%s"):format(where, key,
    hint and (" (did you mean '" .. hint .. "'?)") or "")
end

-- Checks value v for entry e; returns the value (converted where harmless) or nil, problem.
local function check_value(e, v)
  local default, check = e[2], e[4]
  if check == "all_or_count" or check == "all_or_number" then
    if v == "all" then return v end
    if check == "all_or_count" and math.type(v) == "float" and v == math.floor(v) then
      v = math.tointeger(v)
    end
    if check == "all_or_count" and math.type(v) == "integer" and v >= 0 then return v end
    if check == "all_or_number" and type(v) == "number" and v >= 0 then return v end
    return nil, check == "all_or_count" and "\"all\" or a count >= 0" or "\"all\" or a number >= 0"
  end
  if type(default) == "table" then
    if type(v) ~= "table" then return nil, "a list of numbers" end
    for i = 1, #v do
      if type(v[i]) ~= "number" then return nil, "a list of numbers" end
    end
    return v
  end
  if type(default) == "boolean" then
    if type(v) ~= "boolean" then return nil, "true or false" end
    return v
  end
  if type(default) == "string" then
    if type(v) ~= "string" then return nil, "a string" end
    if type(check) == "table" then
      for _, c in ipairs(check) do if c == v then return v end end
      return nil, "one of " .. table.concat(check, ", ")
    end
    return v
  end
  if type(v) ~= "number" or v ~= v then return nil, "a number" end
  if math.type(default) == "integer" then
    if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
    if math.type(v) ~= "integer" then return nil, "an integer" end
  end
  if check == "prob" and (v < 0 or v > 1) then return nil, "a number in [0, 1]" end
  if check == "count" and v < 0 then return nil, "an integer >= 0" end
  if check == "nonneg" and (v < 0 or v == math.huge) then return nil, "a finite number >= 0" end
  if check == "positive" and v <= 0 then return nil, "a number > 0" end
  return v
end

-- Sets key to value in cfg after checking it; nil, message on a problem.
local function assign(schema, cfg, key, value, where)
  local section
  if key:find(".", 1, true) then
    section, key = key:match("^([%w_]+)%.([%w_]+)$")
    if not section then return nil, ("%s: bad setting name"):format(where) end
  end
  local info = schema.by_key[key]
  if not info or (section and info.section ~= section) then
    return nil, unknown(schema, section and (section .. "." .. key) or key, where)
  end
  local v, want = check_value(info.entry, value)
  if v == nil then
    return nil, ("%s: %s must be %s, got %s"):format(where, key, want, tostring(value))
  end
  cfg[info.section][key] = v
  return true
end

-- Reads a value written on the command line as the type of entry e.
local function parse_text(e, text)
  local default = e[2]
  if type(default) == "boolean" then
    if text == "true" or text == "1" or text == "yes" then return true end
    if text == "false" or text == "0" or text == "no" then return false end
    return text
  end
  if type(default) == "table" then
    local out = {}
    for item in (text .. ","):gmatch("([^,]*),") do out[#out + 1] = tonumber(item) or item end
    return out
  end
  if type(default) == "number" or e[4] == "all_or_count" or e[4] == "all_or_number" then
    return tonumber(text) or text
  end
  return text
end

--- config.options(stage, sections) -> cli option specs: one per key of those sections (the
--- key with dashes, the help and default of the schema), then --config and --set.
function config.options(stage, sections)
  local schema = config.schema(stage)
  local out = {}
  for _, name in ipairs(sections) do
    local found = false
    for _, sec in ipairs(schema.sections) do
      if sec.name == name then
        found = true
        for _, e in ipairs(sec.entries) do
          local d = e[2]
          local shown = type(d) == "table" and table.concat(d, ",") or tostring(d)
          local help = e[3]
          if type(e[4]) == "table" then help = help .. " (" .. table.concat(e[4], "|") .. ")" end
          out[#out + 1] = {name = e[1]:gsub("_", "-"), kind = "string", metavar = "VALUE",
                           help = help .. " [default: " .. shown .. "]", config_key = e[1]}
        end
      end
    end
    assert(found, "config.options: no section " .. tostring(name))
  end
  out[#out + 1] = {name = "config", kind = "string", metavar = "FILE",
                   help = "a Lua file returning settings to change (see lua/mtcnn/config/)"}
  out[#out + 1] = {name = "set", kind = "string", metavar = "KEY=VALUE", repeated = true,
                   help = "change any setting of the stage (repeatable), e.g. --set train.lr=0.01"}
  return out
end

-- Applies a table read from a config file (by section, or flat).
local function apply_file(schema, cfg, t, path)
  for k, v in pairs(t) do
    if type(k) ~= "string" then return nil, path .. ": settings must be named" end
    if schema.by_key[k] == nil and cfg[k] ~= nil and type(v) == "table" then
      for k2, v2 in pairs(v) do
        local ok, err = assign(schema, cfg, k .. "." .. tostring(k2), v2, path)
        if not ok then return nil, err end
      end
    else
      local ok, err = assign(schema, cfg, k, v, path)
      if not ok then return nil, err end
    end
  end
  return true
end

--- config.apply(stage, cfg, t [, where]) -> cfg | nil, message: the settings of table t (by
--- section or flat, as a config file returns them) applied to cfg; where names t in messages.
function config.apply(stage, cfg, t, where)
  local ok, err = apply_file(config.schema(stage), cfg, t, where or "settings")
  if not ok then return nil, err end
  return cfg
end

--- config.load_file(stage, path [, cfg]) -> cfg | nil, message: the defaults (or cfg)
--- changed by the settings of a config file. The file runs with no access to globals.
function config.load_file(stage, path, cfg)
  local schema = config.schema(stage)
  cfg = cfg or config.defaults(stage)
  local chunk, err = loadfile(path, "t", {})
  if not chunk then return nil, err end
  local ok, t = pcall(chunk)
  if not ok then return nil, ("%s: %s"):format(path, tostring(t)) end
  if type(t) ~= "table" then return nil, path .. ": must return a table of settings" end
  local done, e2 = apply_file(schema, cfg, t, path)
  if not done then return nil, e2 end
  return cfg
end

--- config.resolve(stage, args [, sections [, base]]) -> cfg | nil, message: the defaults (or
--- base, a table of config.defaults' shape, changed in place: e.g. a preset), then args.config,
--- the flags of config.options (args[key]) and args.set (a list of KEY=VALUE).
function config.resolve(stage, args, sections, base)
  local schema = config.schema(stage)
  local cfg = base or config.defaults(stage)
  args = args or {}
  if args.config then
    local _, err = config.load_file(stage, args.config, cfg)
    if err then return nil, "--config " .. err end
  end
  for _, name in ipairs(sections or {}) do
    for _, sec in ipairs(schema.sections) do
      if sec.name == name then
        for _, e in ipairs(sec.entries) do
          local text = args[e[1]]
          if text ~= nil then
            local ok, err = assign(schema, cfg, e[1], parse_text(e, tostring(text)),
                                   "--" .. e[1]:gsub("_", "-"))
            if not ok then return nil, err end
          end
        end
      end
    end
  end
  local sets = args.set
  if type(sets) == "string" then sets = {sets} end
  for _, s in ipairs(sets or {}) do
    local key, text = s:match("^%s*([%w_%.]+)%s*=%s*(.-)%s*$")
    if not key then return nil, ("--set %s: expected KEY=VALUE"):format(s) end
    local info = schema.by_key[key:match("([%w_]+)$")]
    local value = info and parse_text(info.entry, text) or text
    local ok, err = assign(schema, cfg, key, value, "--set " .. s)
    if not ok then return nil, err end
  end
  return cfg
end

local function literal(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = literal(v[i]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  if math.type(v) == "float" then
    local s = require("mtcnn.json").number_text(v)
    if not s:find("[%.eEn]") then s = s .. ".0" end -- stays a float when read back
    return s
  end
  return tostring(v)
end

--- config.to_lua(cfg, stage [, header]) -> Lua source that returns cfg, every setting with
--- its help as a comment (a valid --config file).
function config.to_lua(cfg, stage, header)
  local schema = config.schema(stage)
  local lines = {}
  if header then
    for line in (header .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = "-- " .. line end
  end
  lines[#lines + 1] = "return {"
  for _, sec in ipairs(schema.sections) do
    if cfg[sec.name] then
      lines[#lines + 1] = ("  %s = { -- %s"):format(sec.name, sec.help)
      for _, e in ipairs(sec.entries) do
        local v = cfg[sec.name][e[1]]
        if v ~= nil then lines[#lines + 1] = ("    %s = %s, -- %s"):format(e[1], literal(v), e[3]) end
      end
      lines[#lines + 1] = "  },"
    end
  end
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

--- config.write(cfg, path, stage [, header]) -> true | nil, message: config.to_lua written
--- under a temporary name and renamed over path.
function config.write(cfg, path, stage, header)
  return require("mtcnn.sys").write_atomic(path, config.to_lua(cfg, stage, header))
end

--- config.sample_params(cfg) -> the options of mtcnn.sample for this config (detection and
--- landmark keys that the sampler knows).
function config.sample_params(cfg)
  local known = require("mtcnn.sample").defaults()
  local p = {}
  for _, sec in ipairs({"detection", "landmark"}) do
    for k, v in pairs(cfg[sec] or {}) do
      if known[k] ~= nil then p[k] = v end
    end
  end
  return p
end

return config

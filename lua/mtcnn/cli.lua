-- mtcnn.cli: command-line parsing for the project's scripts, with --help.
--
--   local cli = require "mtcnn.cli"
--   local args = cli.parse(arg, {
--     usage = "mtcnn scripts/bench.lua MODE [options]",
--     description = "Measures ...",
--     positional = {{name = "mode", choices = {"tensor"}, help = "what to measure"}},
--     rest = {name = "IMAGE", help = "images or folders"},   -- optional: trailing list
--     options = {
--       {name = "json", kind = "flag", help = "print JSON"},
--       {name = "reps", kind = "int", default = 20, help = "repetitions"},
--       {name = "device", kind = "string", choices = {"cpu", "cuda"}, default = "cpu"},
--       {name = "thresholds", kind = "list", default = {0.6, 0.7, 0.7}},  -- "a,b,c" numbers
--       {name = "set", kind = "string", repeated = true},  -- each --set kept: args.set = {...}
--     },
--   })
--   args.mode, args.json, args.reps, args.device, args.rest (list)
--
-- Option names use dashes on the command line (--min-face) and underscores
-- in the result (args.min_face). "--name=value" and "--name value" both work.
-- --help prints the usage and exits 0; a bad command line prints the problem
-- and the usage line to stderr (not the whole help, which would scroll the problem
-- away) and exits 2.
--
-- A script's preamble:
--   local args, fail = cli.script(arg, {name = "x.lua", usage = ..., options = cli.options(
--     {{name = "out", kind = "string"}}, shared_options)})
--   if not args.out then fail("--out is required", 2) end   -- "x.lua: ..." on stderr, exit 2
--   ... fail(err)                                            -- exit 1

local cli = {}

local KINDS = {flag = true, int = true, number = true, string = true, list = true}

local function key_of(name) return (name:gsub("-", "_")) end

local function option_line(o)
  local head = "  --" .. o.name
  if o.kind ~= "flag" then head = head .. " " .. (o.metavar or o.kind:upper()) end
  local help = o.help or ""
  if o.choices then help = help .. " (" .. table.concat(o.choices, "|") .. ")" end
  if o.default ~= nil and o.kind ~= "flag" then
    local d = o.default
    if type(d) == "table" then d = table.concat(d, ",") end
    help = help .. " [default: " .. tostring(d) .. "]"
  end
  if #head < 26 then return head .. (" "):rep(26 - #head) .. help end
  return head .. "\n" .. (" "):rep(26) .. help
end

--- The help text of a spec.
function cli.help(spec)
  local lines = {"usage: " .. spec.usage}
  if spec.description then
    lines[#lines + 1] = ""
    lines[#lines + 1] = spec.description
  end
  if spec.positional and #spec.positional > 0 or spec.rest then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "arguments:"
    for _, p in ipairs(spec.positional or {}) do
      local h = p.help or ""
      if p.choices then h = h .. " (" .. table.concat(p.choices, "|") .. ")" end
      lines[#lines + 1] = ("  %-24s%s"):format(p.name:upper(), h)
    end
    if spec.rest then
      lines[#lines + 1] = ("  %-24s%s"):format(spec.rest.name .. "...", spec.rest.help or "")
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "options:"
  for _, o in ipairs(spec.options or {}) do lines[#lines + 1] = option_line(o) end
  lines[#lines + 1] = option_line({name = "help", kind = "flag", help = "show this help and exit"})
  if spec.epilog then
    lines[#lines + 1] = ""
    lines[#lines + 1] = spec.epilog
  end
  return table.concat(lines, "\n") .. "\n"
end

local function convert(o, text)
  if o.kind == "int" then
    local v = math.tointeger(tonumber(text))
    if v == nil then return nil, ("--%s expects an integer, got '%s'"):format(o.name, text) end
    return v
  elseif o.kind == "number" then
    local v = tonumber(text)
    if v == nil then return nil, ("--%s expects a number, got '%s'"):format(o.name, text) end
    return v
  elseif o.kind == "list" then
    local out = {}
    for item in (text .. ","):gmatch("([^,]*),") do
      local v = tonumber(item)
      if v == nil then
        return nil, ("--%s expects comma-separated numbers, got '%s'"):format(o.name, text)
      end
      out[#out + 1] = v
    end
    if o.count and #out ~= o.count then
      return nil, ("--%s expects %d numbers, got %d"):format(o.name, o.count, #out)
    end
    return out
  end
  if o.choices then
    for _, c in ipairs(o.choices) do if c == text then return text end end
    return nil, ("--%s must be one of %s, got '%s'"):format(o.name, table.concat(o.choices, ", "), text)
  end
  return text
end

--- Parses argv (the script's arg table) against spec. Returns the values, or
--- (when spec.no_exit is set) nil and a message instead of exiting.
function cli.parse(argv, spec)
  local by_name = {}
  for _, o in ipairs(spec.options or {}) do
    assert(KINDS[o.kind], "cli: option --" .. o.name .. " has unknown kind " .. tostring(o.kind))
    by_name[o.name] = o
  end
  local function bad(msg)
    if spec.no_exit then return nil, msg end
    io.stderr:write(("%s: %s\nusage: %s  (--help for every option)\n"):format(spec.name or "error",
      msg, spec.usage))
    os.exit(2)
  end

  local args, positional, rest = {}, {}, {}
  for _, o in ipairs(spec.options or {}) do
    if o.kind == "flag" then args[key_of(o.name)] = o.default or false
    else args[key_of(o.name)] = o.default end
  end

  local i, only_positional = 1, false
  while i <= #argv do
    local a = argv[i]
    if not only_positional and a == "--" then
      only_positional = true
    elseif not only_positional and (a == "--help" or a == "-h") then
      if spec.no_exit then return nil, "help" end
      io.stdout:write(cli.help(spec))
      os.exit(0)
    elseif not only_positional and a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local o = by_name[name]
      if not o then return bad("unknown option --" .. name) end
      if o.kind == "flag" then
        if value ~= nil then return bad("--" .. name .. " takes no value") end
        args[key_of(name)] = true
      else
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return bad("--" .. name .. " needs a value") end
        end
        local v, err = convert(o, value)
        if v == nil then return bad(err) end
        if o.repeated then -- every occurrence kept, in order
          local list = args[key_of(name)] or {}
          list[#list + 1] = v
          args[key_of(name)] = list
        else
          args[key_of(name)] = v
        end
      end
    elseif not only_positional and a:sub(1, 1) == "-" and #a > 1 and not tonumber(a) then
      return bad("unknown option " .. a)
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end

  local np = #(spec.positional or {})
  for k, p in ipairs(spec.positional or {}) do
    local v = positional[k]
    if v == nil then
      if p.required ~= false and p.default == nil then
        return bad("missing argument " .. p.name:upper())
      end
      v = p.default
    elseif p.choices then
      local ok = false
      for _, c in ipairs(p.choices) do if c == v then ok = true end end
      if not ok then
        return bad(("%s must be one of %s, got '%s'"):format(p.name:upper(),
          table.concat(p.choices, ", "), v))
      end
    end
    args[key_of(p.name)] = v
  end
  for k = np + 1, #positional do rest[#rest + 1] = positional[k] end
  if #rest > 0 and not spec.rest then return bad("unexpected argument '" .. rest[1] .. "'") end
  if spec.rest and spec.rest.required and #rest == 0 then
    return bad("missing " .. spec.rest.name .. " argument(s)")
  end
  args.rest = rest
  return args
end

--- The option lists given, one after the other, as one list (a script's own options and
--- those it shares with others).
function cli.options(...)
  local all = {}
  for _, list in ipairs({...}) do table.move(list, 1, #list, #all + 1, all) end
  return all
end

--- Parses a script's command line as cli.parse does (exiting on --help or a bad command
--- line) and returns the values and fail(msg [, code = 1]), which ends the script with
--- "NAME: msg" on stderr (spec.name) and the exit status code (2 for a usage error).
function cli.script(argv, spec)
  local args = cli.parse(argv, spec)
  local function fail(msg, code)
    io.stderr:write(spec.name, ": ", msg, "\n")
    os.exit(code or 1)
  end
  return args, fail
end

return cli

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
--       {name = "factor", kind = "number", range = "(0, 0.95]"},  -- checked here (list: each)
--       {name = "set", kind = "string", repeated = true},  -- each --set kept: args.set = {...}
--       {name = "out", kind = "string", required = true},  -- missing: exit 2 (a string: why)
--     },
--   })
--   args.mode, args.json, args.reps, args.device, args.rest (list)
--
-- Option names use dashes on the command line (--min-face) and underscores
-- in the result (args.min_face). "--name=value" and "--name value" both work.
-- --help prints the usage and exits 0; a bad command line prints the problem and the usage
-- line to stderr (not the whole help) and exits 2, before the script does any work.
--
-- Exit statuses every script follows (cli.EXIT; README, 'Command-line tools'):
--   0 everything done; 1 some inputs failed (each named on stderr, the rest done) or the work
--   failed; 2 a bad command line; 3 an output could not be written (a full disk, a folder
--   that cannot be created), whatever else was done.
--
-- A script's preamble:
--   local args, fail = cli.script(arg, {name = "x.lua", usage = ..., options = cli.options(
--     {{name = "out", kind = "string"}}, shared_options)})
--   if not args.out then fail("--out is required", 2) end   -- "x.lua: ..." on stderr, exit 2
--   ... fail(err)                                            -- exit 1
--   ... fail(err, cli.EXIT.output)                           -- exit 3
--
-- Ranges ("[lo, hi]", "(lo, hi]", "[1, inf)": brackets include the bound, parentheses
-- exclude it) are checked by cli.check, which the Lua API uses too (mtcnn.detector), so
-- that a script and a library call refuse the same values with the same words.

local cli = {}

cli.EXIT = {ok = 0, failed = 1, usage = 2, output = 3}

-- "(0, 0.95]" -> {lo = 0, hi = 0.95, lo_open = true, hi_open = false, text = "(0, 0.95]"}
local ranges = {}
local function parse_range(text)
  local r = ranges[text]
  if r then return r end
  local a, lo, hi, b = text:match("^%s*([%[%(])%s*([^,%s]+)%s*,%s*([^%]%)%s]+)%s*([%]%)])%s*$")
  local function num(v) return v == "inf" and math.huge or v == "-inf" and -math.huge or tonumber(v) end
  assert(a and num(lo) and num(hi), "cli: bad range " .. tostring(text))
  r = {lo = num(lo), hi = num(hi), lo_open = a == "(", hi_open = b == ")", text = text}
  ranges[text] = r
  return r
end

--- cli.check(v, range [, integer]) -> nil when the number v lies in range ("(0, 1]", ...;
--- integer: v must be an integer too), else the words "must lie in (0, 1], got 2".
function cli.check(v, range, integer)
  local r = parse_range(range)
  local what = integer and "an integer" or "a number"
  if type(v) ~= "number" or v ~= v or (integer and math.type(v) ~= "integer") then
    return ("must be %s in %s, got %s"):format(what, r.text, tostring(v))
  end
  local ok = (r.lo_open and v > r.lo or not r.lo_open and v >= r.lo) and
             (r.hi_open and v < r.hi or not r.hi_open and v <= r.hi)
  if not ok then return ("must lie in %s, got %s"):format(r.text, tostring(v)) end
  return nil
end

local KINDS = {flag = true, int = true, number = true, string = true, list = true}

local function key_of(name) return (name:gsub("-", "_")) end

local function option_line(o)
  local head = "  --" .. o.name
  if o.kind ~= "flag" then head = head .. " " .. (o.metavar or o.kind:upper()) end
  local help = o.help or ""
  if o.choices then help = help .. " (" .. table.concat(o.choices, "|") .. ")" end
  if o.range then help = help .. " in " .. o.range end
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

-- The number text means (nil for none; "nan" and "inf" are not numbers of a command line).
local function number_of(text)
  local v = tonumber(text)
  if v ~= nil and (v ~= v or v == math.huge or v == -math.huge) then return nil end
  return v
end

local function convert(o, text)
  if o.kind == "int" then
    local v = math.tointeger(number_of(text))
    if v == nil then return nil, ("--%s expects an integer, got '%s'"):format(o.name, text) end
    local bad = o.range and cli.check(v, o.range, true)
    if bad then return nil, ("--%s %s"):format(o.name, bad) end
    return v
  elseif o.kind == "number" then
    local v = number_of(text)
    if v == nil then return nil, ("--%s expects a number, got '%s'"):format(o.name, text) end
    local bad = o.range and cli.check(v, o.range)
    if bad then return nil, ("--%s %s"):format(o.name, bad) end
    return v
  elseif o.kind == "list" then
    local out = {}
    for item in (text .. ","):gmatch("([^,]*),") do
      local v = number_of(item)
      if v == nil then
        return nil, ("--%s expects comma-separated numbers, got '%s'"):format(o.name, text)
      end
      local bad = o.range and cli.check(v, o.range)
      if bad then return nil, ("--%s: each number %s"):format(o.name, bad) end
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
    cli.usage_error(spec, msg)
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
  for _, o in ipairs(spec.options or {}) do
    if o.required and args[key_of(o.name)] == nil then
      return bad(("--%s is required%s"):format(o.name, o.required == true and "" or " (" .. o.required .. ")"))
    end
  end
  args.rest = rest
  return args
end

--- Ends the script for a bad command line: the problem, then the usage line and where the
--- rest is (not the whole help, which would bury the one line that matters), exit 2.
function cli.usage_error(spec, msg)
  io.stderr:write(("%s: %s\nusage: %s\n(--help lists every option)\n"):format(spec.name or "error",
    msg, spec.usage))
  os.exit(cli.EXIT.usage)
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
--- "NAME: msg" on stderr (spec.name) and the exit status code: cli.EXIT.usage (2) for a
--- usage error, which also prints the usage line, cli.EXIT.output (3) when an output
--- could not be written.
function cli.script(argv, spec)
  local args = cli.parse(argv, spec)
  local function fail(msg, code)
    if code == cli.EXIT.usage then cli.usage_error(spec, msg) end
    io.stderr:write(spec.name, ": ", msg, "\n")
    io.stderr:flush()
    os.exit(code or cli.EXIT.failed)
  end
  return args, fail
end

return cli

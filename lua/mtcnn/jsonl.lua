-- mtcnn.jsonl: JSON Lines outputs that a later run continues (detect.lua --resume).
--
--   local done, info = assert(jsonl.resume("out.jsonl", "image"))
--   if not done[jsonl.key(path)] then ... end
--
-- A record names its input by the path a run was given; jsonl.key turns any spelling of
-- a file (relative or absolute, through links, with "." or "..") into one key, so that a run
-- resumed with another spelling of the same folder skips what is done.

local json = require "mtcnn.json"
local sys = require "mtcnn.sys"

local jsonl = {}

--- jsonl.key(path) -> the real path of an existing file (every spelling of it gives the
--- same), else path itself.
function jsonl.key(path)
  return sys.realpath(path) or path
end

--- jsonl.resume(path, field [, header]) -> done, info | nil, message. Reads the output file
--- at path (a missing one is empty): done[jsonl.key(v)] = true for the string v of field in
--- each intact record. A damaged line (not a JSON object with that field) is dropped, and so
--- is a torn last line (no newline: a killed run's); the records after a damaged line are
--- kept. With header, a line {header = {...}} (the settings a run records) is kept too, the
--- first in info.header. When a line was dropped the file is rewritten (atomically) with every
--- intact line, so that appending continues a valid file. info = {count, damaged (lines
--- dropped), torn (bytes cut), header}.
function jsonl.resume(path, field, header)
  local done, info = {}, {count = 0, damaged = 0, torn = 0}
  if not sys.stat(path) then return done, info end
  local f, err = sys.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  if not text then return nil, path .. ": read error" end
  local keep, pos = {}, 1
  while pos <= #text do
    local nl = text:find("\n", pos, true)
    if not nl then
      info.torn = #text - pos + 1
      break
    end
    local line = text:sub(pos, nl - 1)
    local obj = json.decode(line)
    if type(obj) == "table" and type(obj[field]) == "string" then
      done[jsonl.key(obj[field])] = true
      info.count = info.count + 1
      keep[#keep + 1] = line
    elseif header and type(obj) == "table" and obj[field] == nil and type(obj[header]) == "table" then
      info.header = info.header or obj[header]
      keep[#keep + 1] = line
    elseif line:match("%S") then
      info.damaged = info.damaged + 1
    end
    pos = nl + 1
  end
  if info.damaged > 0 or info.torn > 0 then
    local ok, werr = sys.write_atomic(path, #keep > 0 and table.concat(keep, "\n") .. "\n" or "")
    if not ok then return nil, werr end
  end
  return done, info
end

return jsonl

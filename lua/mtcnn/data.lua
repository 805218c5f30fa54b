-- mtcnn.data: readers of the face data sets' annotation files.
--
--   local data = require "mtcnn.data"
--   local set, stats = data.read_wider("wider_face_train_bbx_gt.txt", {images = "WIDER_train/images"})
--   local set, stats = data.read_list("wider_face_train.txt", {images = "WIDER_train/images"})
--   local set, stats = data.read_landmarks("trainImageList.txt", {images = "landmarks"})
--
-- Each returns a list of entries and stats {listed, missing, kept, faces, ...}
-- or nil, message; entry.index is the entry's position in the file's list
-- (1-based, missing images counted), a stable name for it. Listed images that
-- do not exist are skipped and counted (opts.check = false keeps them;
-- opts.on_missing(name, path) hears of each); a malformed line is an error naming the
-- file and the line ("file:12: ..."). Boxes are 0-based INCLUSIVE
-- {x1, y1, x2, y2} (docs/design.md, 'Pixels and boxes'), so every face or box table can be
-- handed to mtcnn.box and mtcnn.sample as it is.

local stat = require("mtcnn.sys").stat

local M = {}

local function exists(path)
  return stat(path) ~= nil
end

local function join(root, rel)
  if root == nil or root == "" or rel:sub(1, 1) == "/" then return rel end
  if root:sub(-1) == "/" then return root .. rel end
  return root .. "/" .. rel
end

-- The whole of a file, or nil, message.
local function read_text(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, ("%s: cannot read: %s"):format(path, tostring(err)) end
  local text = f:read("a")
  f:close()
  return text
end

-- A cursor over the lines of text (without their "\n" or "\r\n"), so that a large file
-- is not cut into a table of lines: next() -> the next line or nil at the end; peek();
-- skip() -> true when the skipped line holds only zeros and blanks, false otherwise, nil at
-- the end (the line is not copied); n: the number of the last line taken.
local function cursor(text)
  local find, sub = string.find, string.sub
  -- lines end at "\n"; a final "\n" starts no line, and an empty text has none
  local len = #text
  if sub(text, -1) == "\n" then len = len - 1 end
  if #text == 0 then len = -1 end
  local pos = 1
  local c = {n = 0}
  local function line_end()
    local e = find(text, "\n", pos, true)
    if not e or e > len then e = len + 1 end
    return e
  end
  function c.next()
    if pos > len + 1 then return nil end
    local e = line_end()
    local line = sub(text, pos, e - 1)
    if sub(line, -1) == "\r" then line = sub(line, 1, -2) end
    pos = e + 1
    c.n = c.n + 1
    return line
  end
  function c.peek()
    local p, n = pos, c.n
    local line = c.next()
    pos, c.n = p, n
    return line
  end
  function c.skip()
    if pos > len + 1 then return nil end
    local e = line_end()
    local _, z = find(text, "^[ \t\r0]*", pos)
    pos = e + 1
    c.n = c.n + 1
    return z + 1 >= e
  end
  return c
end

-- Lines of a file without their line ends ("\n" or "\r\n"); nil, message
-- when it cannot be read.
local function read_lines(path)
  local text, err = read_text(path)
  if not text then return nil, err end
  local lines, n = {}, 0
  local crlf = text:find("\r", 1, true)
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    lines[n] = crlf and line:gsub("\r$", "") or line
  end
  if lines[n] == "" then lines[n] = nil end
  return lines
end

-- Splits a line into words.
local function words(line)
  local w = {}
  for s in line:gmatch("%S+") do w[#w + 1] = s end
  return w
end

-- A raised error carrying "file:line: message", caught by the readers.
local Malformed = {}
local function malformed(path, n, fmt, ...)
  error(setmetatable({msg = ("%s:%d: " .. fmt):format(path, n, ...)}, Malformed), 0)
end

local function numbers(path, n, list, first, count, what)
  local out = {}
  for i = first, first + count - 1 do
    local v = tonumber(list[i])
    if v == nil then
      malformed(path, n, "%s: '%s' is not a number", what, tostring(list[i]))
    end
    out[#out + 1] = v
  end
  return out
end

-- Runs parse(lines, entries), which fills entries and stats, over the file's lines (over its
-- text with whole); returns entries, stats, or nil and the message of a Malformed error.
local function guarded(path, stats, parse, whole)
  local lines, err = (whole and read_text or read_lines)(path)
  if not lines then return nil, err end
  local entries = {}
  local ok, e = pcall(parse, lines, entries)
  if ok then return entries, stats end
  if getmetatable(e) == Malformed then return nil, e.msg end
  error(e, 0)
end

-- Counts a listed image and keeps its entry, unless checking finds its file missing
-- (missing: what the caller found out already; opts.on_missing hears of it); returns whether
-- it was kept.
local function keep(entries, stats, check, entry, opts, missing)
  stats.listed = stats.listed + 1
  if missing == nil then missing = check and not exists(entry.path) end
  if missing then
    stats.missing = stats.missing + 1
    if opts.on_missing then opts.on_missing(entry.name, entry.path) end
    return false
  end
  entry.index = stats.listed
  entries[#entries + 1] = entry
  stats.kept = stats.kept + 1
  return true
end

local ATTRS = {"blur", "expression", "illumination", "invalid", "occlusion", "pose"}
local FACE = "^%s*(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+(%S+)"

--- data.read_wider(gt_file, {images = folder, check = true}) -> entries, stats
--- The official WIDER FACE *_bbx_gt.txt format: an image path line, a face
--- count line, then one line per face "x y w h blur expression illumination
--- invalid occlusion pose" (a zero-face image has one line of zeros).
--- entry = {path, name, faces = {face...}}; face = {x1, y1, x2, y2, x, y, w, h,
--- blur, expression, illumination, invalid (boolean), occlusion, pose} with
--- x2 = x + w - 1 (w pixels wide). stats: listed, kept, missing, faces,
--- invalid (kept faces flagged invalid), empty (listed images without faces;
--- their line of ten zeros is not a face).
function M.read_wider(path, opts)
  opts = opts or {}
  local check = opts.check ~= false
  local stats = {listed = 0, kept = 0, missing = 0, faces = 0, invalid = 0, empty = 0}
  return guarded(path, stats, function(text, entries)
    local src = cursor(text)
    while true do
      local line = src.next()
      if line == nil then break end
      local i = src.n
      local name = line:match("^%s*(.-)%s*$")
      if name ~= "" then
        -- a line of numbers where a path belongs means the counts went wrong
        local all_numbers = not name:find("[^%w%s%.%+%-]") and not name:find("[g-wyzG-WYZ]")
        for _, w in ipairs(all_numbers and words(name) or {}) do
          all_numbers = all_numbers and tonumber(w) ~= nil
        end
        if all_numbers then malformed(path, i, "expected an image path, got '%s'", name) end
        local count_line = src.next()
        if count_line == nil then malformed(path, i, "the file ends after the image path '%s'", name) end
        local count = math.tointeger(tonumber(count_line:match("^%s*(.-)%s*$")))
        if count == nil or count < 0 then
          malformed(path, i + 1, "expected the face count of '%s', got '%s'", name, count_line)
        end
        local faces = {}
        local full = join(opts.images, name)
        local missing = check and not exists(full)
        -- the faces of a missing image are not needed: skip them unparsed, except to tell a
        -- zero-face placeholder (the official train file lists 12,880 images, most absent)
        local all_zero = missing
        for _ = 1, missing and count or 0 do
          local zero = src.skip()
          if zero == nil then
            malformed(path, src.n + 1, "the file ends inside the %d faces of '%s'", count, name)
          end
          all_zero = all_zero and zero
        end
        if missing and not all_zero then faces = nil end
        for _ = 1, missing and 0 or count do
          local fline = src.next()
          local n = src.n
          if fline == nil then
            malformed(path, n + 1, "the file ends inside the %d faces of '%s'", count, name)
          end
          -- one match for the ten numbers; the word by word path only to name a problem
          local v = {fline:match(FACE)}
          for a = 1, 10 do v[a] = tonumber(v[a]) end
          if v[10] == nil or v[1] == nil or v[2] == nil or v[3] == nil or v[4] == nil or v[5] == nil
             or v[6] == nil or v[7] == nil or v[8] == nil or v[9] == nil then
            local w = words(fline)
            if #w < 10 then
              malformed(path, n, "a face needs 10 numbers (x y w h blur expression illumination invalid occlusion pose), got %d", #w)
            end
            v = numbers(path, n, w, 1, 10, "face")
          end
          local zero = true
          for a = 1, 10 do zero = zero and v[a] == 0 end
          -- a line of ten zeros is the placeholder of an image without faces
          if not zero then
            local f = {v[1], v[2], v[1] + v[3] - 1, v[2] + v[4] - 1, x = v[1], y = v[2], w = v[3], h = v[4]}
            for a = 1, 6 do f[ATTRS[a]] = v[4 + a] end
            f.invalid = v[8] ~= 0
            faces[#faces + 1] = f
          end
        end
        if count == 0 then
          -- the official files follow a zero count with one line of ten zeros
          local nxt = src.peek()
          if nxt and #words(nxt) == 10 and tonumber(words(nxt)[1]) then src.next() end
        end
        if faces and #faces == 0 then stats.empty = stats.empty + 1 end
        if keep(entries, stats, check, {path = full, name = name, faces = faces}, opts, missing) then
          stats.faces = stats.faces + #faces
          for _, f in ipairs(faces) do
            if f.invalid then stats.invalid = stats.invalid + 1 end
          end
        end
      end
    end
  end, true)
end

-- The readers of lists with one image per line: the words w of each non-blank line (line n)
-- make an entry = entry_of(w, n) (its path is then joined to opts.images); stats.faces, when
-- counted, adds the kept entries' faces.
local function read_per_line(path, opts, stats, entry_of)
  local check = opts.check ~= false
  return guarded(path, stats, function(lines, entries)
    for n, line in ipairs(lines) do
      local w = words(line)
      if #w > 0 then
        local entry = entry_of(w, n)
        entry.path = join(opts.images, entry.name)
        if keep(entries, stats, check, entry, opts) and stats.faces then
          stats.faces = stats.faces + #entry.faces
        end
      end
    end
  end)
end

--- data.read_list(file, {images = folder, ext = ".jpg", check = true}) -> entries, stats
--- The seed's one-line format (wider_face_train.txt): "path x1 y1 x2 y2
--- [x1 y1 x2 y2 ...]"; ext is appended to a path without an extension.
--- entry = {path, name, faces = {{x1, y1, x2, y2}, ...}} (boxes as written).
function M.read_list(path, opts)
  opts = opts or {}
  local ext = opts.ext or ".jpg"
  local stats = {listed = 0, kept = 0, missing = 0, faces = 0}
  return read_per_line(path, opts, stats, function(w, n)
    if (#w - 1) % 4 ~= 0 then
      malformed(path, n, "after the path, boxes need 4 numbers each (got %d numbers)", #w - 1)
    end
    local v = numbers(path, n, w, 2, #w - 1, "box")
    local name = w[1]:gsub("\\", "/")
    if not name:match("%.[%w]+$") then name = name .. ext end
    local faces = {}
    for k = 1, #v, 4 do faces[#faces + 1] = {v[k], v[k + 1], v[k + 2], v[k + 3]} end
    return {name = name, faces = faces}
  end)
end

--- data.read_landmarks(file, {images = folder, check = true}) -> entries, stats
--- The 5-point list of Sun et al. (trainImageList.txt): "path left right top
--- bottom x1 y1 ... x5 y5", Windows line ends and backslashes accepted.
--- entry = {path, name, box = {left, top, right, bottom} (inclusive),
--- points = {x1..x5, y1..y5} (planar; docs/design.md, 'Landmarks')}.
function M.read_landmarks(path, opts)
  opts = opts or {}
  local stats = {listed = 0, kept = 0, missing = 0}
  return read_per_line(path, opts, stats, function(w, n)
    if #w ~= 15 then
      malformed(path, n, "a landmark line needs a path and 14 numbers (left right top bottom x1 y1 ... x5 y5), got %d fields", #w)
    end
    local v = numbers(path, n, w, 2, 14, "landmark line")
    local points = {}
    for k = 1, 5 do
      points[k] = v[3 + 2 * k]
      points[5 + k] = v[4 + 2 * k]
    end
    return {name = w[1]:gsub("\\", "/"), box = {v[1], v[3], v[2], v[4]}, points = points}
  end)
end

return M

-- mtcnn.data: readers of the face data sets' annotation files.
--
--   local data = require "mtcnn.data"
--   local set, stats = data.read_wider("wider_face_train_bbx_gt.txt", {images = "WIDER_train/images"})
--   local set, stats = data.read_list("wider_face_train.txt", {images = "WIDER_train/images"})
--   local set, stats = data.read_landmarks("trainImageList.txt", {images = "landmarks"})
--
-- Each returns a list of entries and stats {listed, missing, kept, faces, ...}
-- or nil, message. Listed images that do not exist are skipped and counted
-- (opts.check = false keeps them); a malformed line is an error naming the
-- file and the line ("file:12: ..."). Boxes are 0-based INCLUSIVE
-- {x1, y1, x2, y2} (docs/design.md, 'Pixels and boxes'), so every face or box table can be
-- handed to mtcnn.box and mtcnn.sample as it is.

local M = {}

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

local function join(root, rel)
  if root == nil or root == "" or rel:sub(1, 1) == "/" then return rel end
  if root:sub(-1) == "/" then return root .. rel end
  return root .. "/" .. rel
end

-- Lines of a file without their line ends ("\n" or "\r\n"); nil, message
-- when it cannot be read.
local function read_lines(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line:gsub("\r$", "")
  end
  if lines[#lines] == "" then lines[#lines] = nil end
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

-- Runs parse(lines, entries), which fills entries and stats, over the file's lines; returns
-- entries, stats, or nil and the message of a Malformed error.
local function guarded(path, stats, parse)
  local lines, err = read_lines(path)
  if not lines then return nil, ("%s: cannot read: %s"):format(path, tostring(err)) end
  local entries = {}
  local ok, e = pcall(parse, lines, entries)
  if ok then return entries, stats end
  if getmetatable(e) == Malformed then return nil, e.msg end
  error(e, 0)
end

-- Counts a listed image and keeps its entry, unless checking finds its file missing;
-- returns whether it was kept.
local function keep(entries, stats, check, entry)
  stats.listed = stats.listed + 1
  if check and not exists(entry.path) then
    stats.missing = stats.missing + 1
    return false
  end
  entries[#entries + 1] = entry
  stats.kept = stats.kept + 1
  return true
end

local ATTRS = {"blur", "expression", "illumination", "invalid", "occlusion", "pose"}

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
  return guarded(path, stats, function(lines, entries)
    local i = 1
    while i <= #lines do
      local name = lines[i]:match("^%s*(.-)%s*$")
      if name == "" then
        i = i + 1
      else
        -- a line of numbers where a path belongs means the counts went wrong
        local all_numbers = true
        for _, w in ipairs(words(name)) do all_numbers = all_numbers and tonumber(w) ~= nil end
        if all_numbers then malformed(path, i, "expected an image path, got '%s'", name) end
        local count_line = lines[i + 1]
        if count_line == nil then malformed(path, i, "the file ends after the image path '%s'", name) end
        local count = math.tointeger(tonumber(count_line:match("^%s*(.-)%s*$")))
        if count == nil or count < 0 then
          malformed(path, i + 1, "expected the face count of '%s', got '%s'", name, count_line)
        end
        local faces = {}
        local first = i + 2
        for k = 1, count do
          local n = first + k - 1
          local line = lines[n]
          if line == nil then
            malformed(path, n, "the file ends inside the %d faces of '%s'", count, name)
          end
          local w = words(line)
          if #w < 10 then
            malformed(path, n, "a face needs 10 numbers (x y w h blur expression illumination invalid occlusion pose), got %d", #w)
          end
          local v = numbers(path, n, w, 1, 10, "face")
          local all_zero = true
          for a = 1, 10 do all_zero = all_zero and v[a] == 0 end
          -- a line of ten zeros is the placeholder of an image without faces
          if not all_zero then
            local f = {v[1], v[2], v[1] + v[3] - 1, v[2] + v[4] - 1, x = v[1], y = v[2], w = v[3], h = v[4]}
            for a = 1, 6 do f[ATTRS[a]] = v[4 + a] end
            f.invalid = v[8] ~= 0
            faces[#faces + 1] = f
          end
        end
        i = first + count
        if count == 0 then
          -- the official files follow a zero count with one line of ten zeros
          local nxt = lines[i]
          if nxt and #words(nxt) == 10 and tonumber(words(nxt)[1]) then i = i + 1 end
        end
        if #faces == 0 then stats.empty = stats.empty + 1 end
        local entry = {path = join(opts.images, name), name = name, faces = faces}
        if keep(entries, stats, check, entry) then
          stats.faces = stats.faces + #faces
          for _, f in ipairs(faces) do
            if f.invalid then stats.invalid = stats.invalid + 1 end
          end
        end
      end
    end
  end)
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
        if keep(entries, stats, check, entry) and stats.faces then
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

-- mtcnn.eval.predictions: reading and writing detections for the evaluators.
--
-- Three formats:
--   * our detect JSON Lines: one object per image,
--       {"image": path, "width": W, "height": H,
--        "faces": [{"box": [x1, y1, x2, y2], "score": s, "landmarks": [[x, y] x5]}]}
--     boxes 0-based with inclusive x2, y2 (width = x2 - x1 + 1), after a first line
--     {"mtcnn": {...}} recording how they were made; when it says "box_format": "xywh" the
--     boxes are [x, y, w, h], and landmarks may come by name ("keypoints"): read_jsonl gives
--     them back as above;
--   * the official WIDER FACE submission layout: a folder of EVENT/NAME.txt
--     files holding the image name, the face count, then "x y w h score" lines;
--   * rectangle lists as the FDDB tools read them (and the seed writes them):
--     blocks of an image name line, a count line, then "x y w h score" lines.
--
--   predictions.key(path, depth)            last `depth` path parts, no extension
--   predictions.xywh(box)                   {x1,y1,x2,y2} -> x, y, w, h (w = x2 - x1 + 1)
--   predictions.read_jsonl(path)            -> records | nil, message
--   predictions.read_wider_file(path)       -> boxes {{x, y, w, h, score}, ...} | nil, message
--   predictions.read_rect_file(path)        -> records | nil, message
--   predictions.read_blocks(path, what, unit, parse) -> name/count/items blocks | nil, message
--   predictions.read_lines(path, what)      -> lines without their CR | nil, message
--   predictions.format_wider(name, boxes)   -> the text of one submission file
--   predictions.write_wider(dir, image, faces) -> path | nil, message
--   predictions.jsonl_to_wider(jsonl, dir)  -> count | nil, message
--   predictions.is_dir(path)                -> boolean
--
-- A record is {image = path, width = W|nil, height = H|nil, boxes = {{x, y,
-- w, h, score}, ...}, faces = the JSON faces (JSON Lines only), line = n}.
-- Malformed input gives nil and a message naming the file, the line and the
-- problem; files are written to a temporary name and renamed.

local json = require "mtcnn.json"

local predictions = {}

--- The last `depth` components of a path (backslashes count as slashes),
--- without the file extension: key("a/WIDER_val/images/0--Parade/x.jpg", 2)
--- is "0--Parade/x".
function predictions.key(path, depth)
  local parts = {}
  for part in path:gsub("\\", "/"):gmatch("[^/]+") do
    if part ~= "." then parts[#parts + 1] = part end
  end
  local first = math.max(1, #parts - depth + 1)
  local key = table.concat(parts, "/", first)
  return (key:gsub("%.[%w]+$", ""))
end

--- x, y, w, h of an inclusive box {x1, y1, x2, y2}.
function predictions.xywh(box)
  return box[1], box[2], box[3] - box[1] + 1, box[4] - box[2] + 1
end

-- The fewest digits that read back as the same double (as mtcnn.json writes numbers).
local fmt_number = json.number_text
predictions.fmt_number = fmt_number

local function finite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

--- True when path names a folder.
function predictions.is_dir(path)
  local f = io.open(path, "r")
  if not f then return false end
  local ok, _, code = f:read(0)
  f:close()
  return ok == nil and code == 21 -- EISDIR
end

-- Checks one face of a JSON Lines record; returns the box as x, y, w, h, score.
local function check_face(face, where)
  if type(face) ~= "table" then return nil, where .. ": a face is not an object" end
  local b = face.box
  if type(b) ~= "table" or #b ~= 4 or not (finite(b[1]) and finite(b[2]) and finite(b[3]) and finite(b[4])) then
    return nil, where .. ": a face's \"box\" must be four finite numbers [x1, y1, x2, y2]"
  end
  if not finite(face.score) then return nil, where .. ": a face has no finite \"score\"" end
  local x, y, w, h = predictions.xywh(b)
  return {x, y, w, h, face.score}
end

-- A face of detect.lua's other forms in the first one: an [x, y, w, h] box as [x1, y1, x2, y2],
-- named landmarks ("keypoints") as the list.
local NAMES = {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}
local function canonical(face, xywh)
  if type(face) ~= "table" then return end
  local b = face.box
  if xywh and type(b) == "table" and #b == 4 and finite(b[3]) and finite(b[4]) then
    face.box = {b[1], b[2], b[1] + b[3] - 1, b[2] + b[4] - 1}
  end
  if face.landmarks == nil and type(face.keypoints) == "table" then
    local lm = {}
    for k, name in ipairs(NAMES) do lm[k] = face.keypoints[name] end
    if #lm == 5 then face.landmarks = lm end
  end
end

--- Reads our detect JSON Lines. Blank lines and the settings line are skipped.
function predictions.read_jsonl(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, ("cannot open predictions %s"):format(err) end
  local records, n, xywh = {}, 0, false
  for line in f:lines() do
    n = n + 1
    local rec, jerr
    if line:match("%S") then rec, jerr = json.decode(line) end
    if type(rec) == "table" and rec.image == nil and type(rec.mtcnn) == "table" then
      -- detect.lua's settings line
      xywh = type(rec.mtcnn.output) == "table" and rec.mtcnn.output.box_format == "xywh"
    elseif line:match("%S") then
      local where = ("%s:%d"):format(path, n)
      if rec == nil then
        f:close()
        return nil, ("%s: not JSON: %s"):format(where, jerr)
      end
      if type(rec) ~= "table" or type(rec.image) ~= "string" then
        f:close()
        return nil, where .. ": each line must be an object with an \"image\" path"
      end
      if type(rec.faces) ~= "table" then
        f:close()
        return nil, where .. ": \"faces\" must be a list"
      end
      local boxes = {}
      for i, face in ipairs(rec.faces) do
        canonical(face, xywh)
        local box, ferr = check_face(face, where)
        if not box then
          f:close()
          return nil, ferr
        end
        boxes[i] = box
      end
      local width = finite(rec.width) and rec.width or nil
      local height = finite(rec.height) and rec.height or nil
      records[#records + 1] = {image = rec.image, width = width, height = height,
                               boxes = boxes, faces = rec.faces, line = n}
    end
  end
  f:close()
  return records
end

-- Parses "x y w h score" (more numbers may follow, as in some submissions).
local function parse_box_line(line, where)
  local v = {}
  for tok in line:gmatch("%S+") do
    local x = tonumber(tok)
    if not finite(x) then return nil, ("%s: '%s' is not a number"):format(where, tok) end
    v[#v + 1] = x
    if #v == 5 then break end
  end
  if #v < 5 then return nil, ("%s: expected 'x y w h score', got '%s'"):format(where, line) end
  return v
end

--- Reads the lines of a text file, dropping a trailing CR (files written on Windows); what
--- names the file in the message when it cannot be opened.
local function read_lines(path, what)
  local f, err = io.open(path, "rb")
  if not f then return nil, ("cannot open %s %s"):format(what, err) end
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = line:gsub("\r$", "") end
  f:close()
  return lines
end
predictions.read_lines = read_lines

-- The count a count line holds: a non-negative integer (as an integer: "1e80" or "6.0e72"
-- is no count a file of lines can hold, and would not print with %d), else nil.
local function count_of(line)
  local v = tonumber(line and line:match("^%s*(%S+)%s*$"))
  v = v and v >= 0 and v < 2 ^ 53 and math.tointeger(v)
  return v or nil
end

--- Reads one file of the WIDER submission layout: name line, count line, then
--- count lines "x y w h score". Returns the boxes in file order.
function predictions.read_wider_file(path)
  local lines, err = read_lines(path, "prediction file")
  if not lines then return nil, err end
  local count = count_of(lines[2])
  if count == nil then
    return nil, ("%s:2: expected the number of faces, got '%s'"):format(path, tostring(lines[2]))
  end
  local boxes = {}
  for i = 1, count do
    local line = lines[i + 2]
    if line == nil then
      return nil, ("%s: says %d faces but has %d box lines"):format(path, count, i - 1)
    end
    local box, berr = parse_box_line(line, ("%s:%d"):format(path, i + 2))
    if not box then return nil, berr end
    boxes[i] = box
  end
  return boxes
end

--- Reads a file of blocks: an image name line, a count line, then `count` item lines (FDDB's
--- ellipse and rectangle lists). parse(line, "path:n") -> item | nil, message reads an item;
--- unit names the items in messages ("faces", "boxes"), what the file ("detection file").
--- Returns {{name =, items =, line = n of the name}, ...} or nil, message.
function predictions.read_blocks(path, what, unit, parse)
  local lines, err = read_lines(path, what)
  if not lines then return nil, err end
  local blocks, i = {}, 1
  while i <= #lines do
    local name = lines[i]:match("^%s*(.-)%s*$")
    if name == "" then
      i = i + 1
    else
      local count = count_of(lines[i + 1])
      if count == nil then
        return nil, ("%s:%d: expected the number of %s of %s, got '%s'"):format(
          path, i + 1, unit, name, tostring(lines[i + 1]))
      end
      local items = {}
      for k = 1, count do
        local line = lines[i + 1 + k]
        if line == nil then
          return nil, ("%s: %s says %d %s, the file ends after %d"):format(path, name, count, unit,
            k - 1)
        end
        local item, ierr = parse(line, ("%s:%d"):format(path, i + 1 + k))
        if not item then return nil, ierr end
        items[k] = item
      end
      blocks[#blocks + 1] = {name = name, items = items, line = i}
      i = i + 2 + count
    end
  end
  return blocks
end

--- Reads a rectangle list (FDDB detections): blocks of name, count, boxes.
function predictions.read_rect_file(path)
  local blocks, err = predictions.read_blocks(path, "detection file", "boxes", parse_box_line)
  if not blocks then return nil, err end
  local records = {}
  for k, b in ipairs(blocks) do records[k] = {image = b.name, boxes = b.items, line = b.line} end
  return records
end

--- The text of one submission file: the image's file name, the face count,
--- then "x y w h score" per face (numbers written exactly).
function predictions.format_wider(name, boxes)
  local out = {name, tostring(#boxes)}
  for _, b in ipairs(boxes) do
    out[#out + 1] = ("%s %s %s %s %s"):format(fmt_number(b[1]), fmt_number(b[2]),
      fmt_number(b[3]), fmt_number(b[4]), fmt_number(b[5]))
  end
  return table.concat(out, "\n") .. "\n"
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Creates a folder and its parents; nil, message on failure.
function predictions.mkdir(dir)
  if predictions.is_dir(dir) then return true end
  local ok = os.execute("mkdir -p " .. shell_quote(dir))
  if not ok or not predictions.is_dir(dir) then return nil, "cannot create folder " .. dir end
  return true
end

--- Writes text to path through a temporary file and a rename (mtcnn.sys.write_atomic).
predictions.write_atomic = require("mtcnn.sys").write_atomic

--- Writes one image's faces in the official WIDER submission layout:
--- DIR/EVENT/NAME.txt, EVENT being the image's folder. faces are our
--- detections ({box = {x1, y1, x2, y2}, score = s}, inclusive boxes).
--- Returns the file's path, or nil and a message.
function predictions.write_wider(dir, image_path, faces)
  local key = predictions.key(image_path, 2)
  local event, name = key:match("^(.+)/([^/]+)$")
  if not event then
    return nil, ("write_wider: %s has no event folder (expected EVENT/NAME.jpg)"):format(image_path)
  end
  local boxes = {}
  for i, face in ipairs(faces) do
    local box, err = check_face(face, "write_wider: " .. image_path)
    if not box then return nil, err end
    boxes[i] = box
  end
  local folder = dir .. "/" .. event
  local ok, err = predictions.mkdir(folder)
  if not ok then return nil, err end
  local path = folder .. "/" .. name .. ".txt"
  local file_name = image_path:gsub("\\", "/"):match("([^/]+)$")
  ok, err = predictions.write_atomic(path, predictions.format_wider(file_name, boxes))
  if not ok then return nil, err end
  return path
end

--- Converts our JSON Lines into the submission layout under dir. Returns the
--- number of files written.
function predictions.jsonl_to_wider(jsonl_path, dir)
  local records, err = predictions.read_jsonl(jsonl_path)
  if not records then return nil, err end
  for _, rec in ipairs(records) do
    local ok, werr = predictions.write_wider(dir, rec.image, rec.faces)
    if not ok then return nil, werr, "output" end
  end
  return #records
end

--- Indexes records by key(image, depth). Two records of one image are an error.
function predictions.index(records, depth, source)
  local by = {}
  for _, rec in ipairs(records) do
    local k = predictions.key(rec.image, depth)
    local prev = by[k]
    if prev then
      return nil, ("%s: image %s appears twice (lines %d and %d)"):format(source, k, prev.line, rec.line)
    end
    by[k] = rec
  end
  return by
end

return predictions

-- mtcnn.eval.mat: reading MATLAB level-5 MAT-files (save -v6 / -v7), such as
-- the WIDER FACE evaluation ground truth.
--
--   local vars, err = mat.read(path)     -- vars.NAME = variable | nil, message
--   mat.cell(var, i [, j])               -- item i (column-major) or (i, j) of a cell array
--   mat.column(var, c)                   -- column c of a numeric matrix, as a list
--   mat.is_integer(var)                  -- true for the int*/uint* classes
--
-- A variable is a table: name, class ("double", "int32", "cell", "char",
-- "struct", ...), dims ({rows, cols, ...}); numeric and logical arrays have
-- values (column-major; Lua integers for integer classes), char arrays text
-- (UTF-8, rows concatenated), cell arrays items (column-major), struct arrays
-- fields and items (one table of field -> variable per element). Complex and
-- sparse arrays, objects and v7.3 (HDF5) files are refused with a message.

local core = require("mtcnn.core").eval

local mat = {}

--- Reads every variable of a MAT-file. Returns a table name -> variable
--- (plus the list in file order under [1], [2], ...), or nil and a message
--- naming the file and the problem.
function mat.read(path)
  local list, err = core.mat_read(path)
  if not list then return nil, err end
  local vars = {}
  for i, v in ipairs(list) do
    vars[i] = v
    if v.name ~= "" then vars[v.name] = v end
  end
  return vars
end

local INTEGER = {int8 = true, uint8 = true, int16 = true, uint16 = true, int32 = true,
                 uint32 = true, int64 = true, uint64 = true}

function mat.is_integer(var)
  return INTEGER[var.class] == true
end

--- Item i of a cell array (column-major), or item (i, j) with two indices.
function mat.cell(var, i, j)
  assert(var.class == "cell", "mat.cell: " .. var.name .. " is a " .. var.class .. ", not a cell array")
  if j then i = i + (j - 1) * var.dims[1] end
  return var.items[i]
end

--- Column c of a numeric matrix as a new list.
function mat.column(var, c)
  local rows = var.dims[1]
  local out = {}
  for r = 1, rows do out[r] = var.values[r + (c - 1) * rows] end
  return out
end

return mat

-- mtcnn.train.checkpoint: the state of a training run in one file, written atomically.
--
--   local checkpoint = require "mtcnn.train.checkpoint"
--   local path = assert(checkpoint.save(dir, state, tensors))  -- dir/step-000001234.ckpt
--   local state, tensors, path = checkpoint.latest(dir)       -- the newest that loads
--
-- A checkpoint is a model file (runtime/nn/mt_model_io.h: a JSON header, then tensors in the
-- mtcnn.tensor format, every part checksummed, written under a temporary name and renamed)
-- whose header has format "mtcnn-checkpoint" and the run's state (state.step is required):
-- the trainer stores the weights and the optimiser's buffers as tensors, and the step, the
-- schedule position, the generators' states, the loader position, the epoch's running
-- statistics and the validation history in the header. A kill at any moment leaves every
-- earlier checkpoint whole and no half-written file under a checkpoint's name.

local core = require "mtcnn.core"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"

local checkpoint = {}

checkpoint.FORMAT = "mtcnn-checkpoint"
checkpoint.VERSION = 1

--- checkpoint.name(step) -> file name of the checkpoint after that step
function checkpoint.name(step)
  return ("step-%09d.ckpt"):format(step)
end

--- checkpoint.save(dir, state, tensors) -> path | nil, message
function checkpoint.save(dir, state, tensors)
  assert(math.type(state.step) == "integer", "checkpoint.save: state.step (an integer) required")
  local header = {}
  for k, v in pairs(state) do header[k] = v end
  header.format, header.version = checkpoint.FORMAT, checkpoint.VERSION
  local path = dir .. "/" .. checkpoint.name(state.step)
  local ok, err = core.nn.save_model(path, json.encode(header), tensors)
  if not ok then return nil, err end
  return path
end

--- checkpoint.load(path) -> state, tensors | nil, message
function checkpoint.load(path)
  local header, tensors = core.nn.load_model(path)
  if not header then return nil, tensors end
  local state = json.decode(header) -- checksummed: a header that is not JSON is someone else's
  if type(state) ~= "table" or state.format ~= checkpoint.FORMAT then
    return nil, ("%s: not a training checkpoint"):format(path)
  end
  if state.version ~= checkpoint.VERSION then
    return nil, ("%s: checkpoint version %s is not supported (this build reads %d)"):format(path,
      tostring(state.version), checkpoint.VERSION)
  end
  return state, tensors
end

--- checkpoint.list(dir) -> {{step, path}, ...}, newest first (an absent folder: empty)
function checkpoint.list(dir)
  local names = sys.listdir(dir) or {}
  local out = {}
  for _, name in ipairs(names) do
    local step = name:match("^step%-(%d+)%.ckpt$")
    if step then out[#out + 1] = {step = math.tointeger(tonumber(step)), path = dir .. "/" .. name} end
  end
  table.sort(out, function(a, b) return a.step > b.step end)
  return out
end

--- checkpoint.latest(dir) -> state, tensors, path, notes | nil, message: the newest checkpoint
--- that loads; notes lists the newer ones that did not (damaged files) and were skipped.
function checkpoint.latest(dir)
  local notes = {}
  for _, c in ipairs(checkpoint.list(dir)) do
    local state, tensors = checkpoint.load(c.path)
    if state then return state, tensors, c.path, notes end
    notes[#notes + 1] = tensors
  end
  if #notes > 0 then
    return nil, ("no usable checkpoint in %s: %s"):format(dir, table.concat(notes, "; "))
  end
  return nil, ("no checkpoint in %s to resume from"):format(dir)
end

--- checkpoint.prune(dir, keep) -> removes the checkpoints for which keep(step) is false
function checkpoint.prune(dir, keep)
  for _, c in ipairs(checkpoint.list(dir)) do
    if not keep(c.step) then os.remove(c.path) end
  end
end

return checkpoint

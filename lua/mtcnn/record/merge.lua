-- mtcnn.record.merge: a net's training set from sample files (the seed's gen_imglist step),
-- sampled WITHOUT replacement (the seed drew with replacement; docs/design.md, 'Training sets
-- and sampling ratios').
--
--   local merge = require "mtcnn.record.merge"
--   local report = assert(merge.run{net = "pnet", inputs = {"pos_12.rec", "part_12.rec",
--     "neg_12.rec", "landmark_12.rec"}, output = "train_12.rec"})
--   -- PNet: 250,000 positives, 250,000 part faces, 750,000 negatives and every landmark face,
--   -- shuffled into one file (batches of random composition).
--   merge.run{net = "rnet", inputs = {...}, output = "rnet_24"}
--   -- RNet / ONet: every sample of each class, shuffled, one file per class in the folder
--   -- (rnet_24/positive.rec, part.rec, negative.rec, landmark.rec) for stratified batches.
--
-- Options: inputs (record files; any mix of labels: single-class files are not scanned),
-- output (a file for layout "single", a folder for "per_class"; or outputs = {class = path}),
-- net ("pnet" | "rnet" | "onet": the defaults below), size, layout, base (250,000), ratio
-- ({positive = 1, part = 1, negative = 3}: base * ratio samples per class), landmark ("all" or
-- a count), counts ({class = n | "all"}: overrides the ratio), strict (fail when a class has
-- fewer samples than asked; otherwise take them all and say so in report.notes), seed (1),
-- shuffle (true), progress (true: a bar on stderr; or a function(done, total)).
--
-- Outputs are written under temporary names and renamed when complete: an interrupted merge
-- leaves the previous outputs as they were. The report: {net, size, layout, available, asked,
-- taken, outputs = {{path, class(es), count}}, notes}.

local record = require "mtcnn.record"
local progress = require "mtcnn.progress"
local sys = require "mtcnn.sys"

local M = {}

M.PRESETS = {
  pnet = {size = 12, layout = "single", base = 250000,
          ratio = {positive = 1, part = 1, negative = 3}, landmark = "all"},
  rnet = {size = 24, layout = "per_class"},
  onet = {size = 48, layout = "per_class"},
}

local CLASSES = record.CLASSES

local function want_of(opts, preset, cls)
  local counts = opts.counts or {}
  if counts[cls] ~= nil then return counts[cls] end
  local ratio = opts.ratio or preset.ratio
  if cls == "landmark" and (opts.landmark ~= nil or preset.landmark ~= nil) then
    return opts.landmark or preset.landmark
  end
  if ratio and ratio[cls] then
    return math.floor((opts.base or preset.base or 250000) * ratio[cls] + 0.5)
  end
  return "all"
end

local function check_want(cls, v)
  if v == "all" then return true end
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
  if math.type(v) ~= "integer" or v < 0 then
    error(("merge: the count of %s must be \"all\" or a count >= 0, got %s"):format(cls, tostring(v)), 3)
  end
  return true
end

local function join(dir, name)
  if dir:sub(-1) == "/" then return dir .. name end
  return dir .. "/" .. name
end

--- merge.run(opts) -> report | nil, message [, "output": an output could not be written]
function M.run(opts)
  assert(type(opts) == "table", "merge.run: options table expected")
  local net = opts.net or "pnet"
  local preset = M.PRESETS[net]
  if not preset then error("merge: unknown net " .. tostring(net) .. " (pnet, rnet, onet)", 2) end
  local size = opts.size or preset.size
  local layout = opts.layout or preset.layout
  if layout ~= "single" and layout ~= "per_class" then
    error("merge: layout must be \"single\" or \"per_class\", got " .. tostring(layout), 2)
  end
  local inputs = opts.inputs
  if type(inputs) == "string" then inputs = {inputs} end
  if type(inputs) ~= "table" or #inputs == 0 then error("merge: no inputs", 2) end

  -- outputs
  local out_paths = {}
  if layout == "single" then
    local out = opts.output or (opts.outputs and opts.outputs[1])
    if type(out) ~= "string" then error("merge: output (a file path) is required", 2) end
    out_paths[1] = out
  else
    if opts.outputs then
      for _, cls in ipairs(CLASSES) do
        if type(opts.outputs[cls]) ~= "string" then error("merge: outputs." .. cls .. " is missing", 2) end
      end
    elseif type(opts.output) ~= "string" then
      error("merge: output (a folder) is required", 2)
    else
      local ok, err = sys.mkdir(opts.output)
      if not ok then
        return nil, "merge: " .. tostring(err), "output"
      end
    end
    for g, cls in ipairs(CLASSES) do
      out_paths[g] = opts.outputs and opts.outputs[cls] or join(opts.output, cls .. ".rec")
    end
  end

  -- inputs and what they hold
  local files, available = {}, {positive = 0, part = 0, negative = 0, landmark = 0}
  local given = {}
  for _, path in ipairs(inputs) do
    if given[path] then
      return nil, ("merge: %s is given twice (its samples would be drawn twice)"):format(path)
    end
    given[path] = true
  end
  for i, path in ipairs(inputs) do
    for _, out in ipairs(out_paths) do
      if out == path then return nil, ("merge: %s is both an input and an output"):format(path) end
    end
    local f, err = record.open(path, {size = size})
    if not f then
      for _, g in ipairs(files) do g:close() end
      return nil, err
    end
    files[i] = f
    for cls, n in pairs(f:counts()) do available[cls] = available[cls] + n end
  end
  local function close_inputs() for _, f in ipairs(files) do f:close() end end

  -- what to take from each class
  local asked, taken, quota, notes = {}, {}, {}, {}
  for _, cls in ipairs(CLASSES) do
    local w = want_of(opts, preset, cls)
    check_want(cls, w)
    asked[cls] = w
    if w == "all" then
      taken[cls] = available[cls]
      if available[cls] == 0 then
        notes[#notes + 1] = ("%s: the inputs hold no %s samples"):format(cls, cls)
      end
    elseif w > available[cls] then
      local msg = ("%s: %d asked, only %d in the inputs (sampling is without replacement)")
        :format(cls, w, available[cls])
      if opts.strict then
        close_inputs()
        return nil, "merge: " .. msg
      end
      notes[#notes + 1] = msg .. ("; taking all %d"):format(available[cls])
      taken[cls] = available[cls]
    else
      taken[cls] = w
    end
    quota[cls] = taken[cls]
  end

  local group = {}
  for g, cls in ipairs(CLASSES) do group[cls] = layout == "single" and 1 or g end
  local plan, perr = record.merge_plan(files, {
    quota = quota, group = group, groups = #out_paths,
    shuffle = opts.shuffle ~= false, seed = opts.seed or 1,
  })
  if not plan then
    close_inputs()
    return nil, perr
  end

  local total = 0
  for g = 1, #out_paths do total = total + plan:size(g) end
  local bar, hook
  if type(opts.progress) == "function" then
    hook = opts.progress
  elseif opts.progress then
    bar = progress.new{total = total, label = "merge " .. net, unit = "samples"}
  end

  local report = {net = net, size = size, layout = layout, available = available, asked = asked,
                  taken = taken, outputs = {}, notes = notes}
  local done = 0
  for g, path in ipairs(out_paths) do
    local w, err = record.writer(path, {size = size, replace = true})
    if not w then -- (a new file under a temporary name: only the output can be at fault)
      close_inputs()
      if bar then bar:finish() end
      return nil, err, "output"
    end
    while true do
      local n
      n, err = plan:copy(g, w, 8192)
      if not n then
        local broken = w:broken() -- a write failed, not a read of an input
        w:abort()
        close_inputs()
        if bar then bar:finish() end
        return nil, err, broken and "output" or nil
      end
      if n == 0 then break end
      done = done + n
      if bar then bar:update(done) end
      if hook then hook(done, total) end
    end
    local counts = w:counts()
    local count = w:count()
    local ok, cerr = w:close()
    if not ok then
      close_inputs()
      if bar then bar:finish() end
      return nil, cerr, "output"
    end
    report.outputs[g] = {path = path, count = count, counts = counts,
                         class = layout == "per_class" and CLASSES[g] or nil}
  end
  if bar then bar:finish() end
  close_inputs()
  return report
end

return M

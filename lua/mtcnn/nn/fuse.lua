-- mtcnn.nn.fuse: the one fusion pass over a list of modules, shared by nn.Sequential (both
-- modes) and nn.Plan.
--
--   local steps = fuse.steps(mods, skip_identity [, cache])
--   for _, s in ipairs(steps) do ... s.first, s.last, s.layer, s.prelu, s.pool ... end
--
-- Each step covers mods[s.first .. s.last], in order, and runs as one pass when it can:
-- s.layer is mods[s.first]; s.prelu the PReLU that a Conv2d or Linear (a module with
-- forward_fused) applies as it writes its output; s.pool the MaxPool2d that a Conv2d (a
-- module with forward_pooled) computes from that output, with or without a PReLU. A module
-- that joins nothing is a step of its own. With skip_identity (evaluate mode), modules that
-- are the identity there (Dropout) may sit between the three; otherwise they must be adjacent.
-- Each user takes what it can run: Sequential fuses only steps with a PReLU, Plan every step.
--
-- With a cache table, the list is made once and reused while mods holds the same modules.

local fuse = {}

local function after_identity(mods, j, skip_identity)
  if skip_identity then
    while mods[j] and mods[j].identity_in_eval do j = j + 1 end
  end
  return j
end

local function make(mods, skip_identity)
  local steps, i = {}, 1
  while i <= #mods do
    local m = mods[i]
    local s = {first = i, last = i, layer = m}
    if m.forward_fused then
      local j = after_identity(mods, i + 1, skip_identity)
      if mods[j] and mods[j].fusable_prelu then
        s.prelu, s.last = mods[j], j
        j = after_identity(mods, j + 1, skip_identity)
      end
      if m.forward_pooled and mods[j] and mods[j].fusable_pool then
        s.pool, s.last = mods[j], j
      end
    end
    steps[#steps + 1] = s
    i = s.last + 1
  end
  return steps
end

--- The steps of mods (see the header).
function fuse.steps(mods, skip_identity, cache)
  if not cache then return make(mods, skip_identity) end
  local key = skip_identity and "skip" or "adjacent"
  local c = cache[key]
  if c and #c.mods == #mods then
    local same = true
    for k = 1, #mods do
      if c.mods[k] ~= mods[k] then
        same = false
        break
      end
    end
    if same then return c.steps end
  end
  c = {mods = table.move(mods, 1, #mods, 1, {}), steps = make(mods, skip_identity)}
  cache[key] = c
  return c.steps
end

return fuse

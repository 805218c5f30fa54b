-- mtcnn.nn.Plan: a net compiled for evaluate-mode runs driven from C (runtime/nn/mt_plan.h).
--
--   local plan = nn.plan(net)                 -- a Sequential, optionally ending in nn.Heads
--   local out = plan:forward(x)               -- like net:forward(x) in evaluate mode
--   local outs = plan:forward_many({x1, x2})  -- several inputs at once (one task each)
--
-- Why: run from Lua, each layer is its own parallel region over the whole batch (the threads
-- wait for each other after every layer). A plan gives each thread whole units of work: a
-- part of the batch through the whole net, or whole inputs (the PNet pyramid levels).
--
-- What compiles: Conv2d (with the PReLU and then MaxPool2d that follow it fused: the steps of
-- mtcnn.nn.fuse, as in nn.Sequential's evaluate mode), Linear (+ PReLU), Softmax, modules
-- that are the identity in evaluate mode (Dropout), nested Sequentials, and a final nn.Heads
-- whose heads are made of the same. The plan reads the modules' weight tensors at every run
-- (updates in place are seen); after modules are replaced or moved to another device, compile
-- a new plan. Outputs are tensors owned by the plan, reused from run to run (one set per
-- input position of forward_many).

local core = require "mtcnn.core"
local T = require "mtcnn.tensor"
local fuse = require "mtcnn.nn.fuse"

local Plan = {}
Plan.__index = Plan

local function fail(msg)
  error("nn.plan: " .. msg, 0)
end

local function is(m, name)
  return type(m) == "table" and m.__name == name
end

-- Flattens nested Sequentials into one list of modules.
local function flatten(mods, out)
  out = out or {}
  for _, m in ipairs(mods) do
    if is(m, "nn.Sequential") then flatten(m.modules, out) else out[#out + 1] = m end
  end
  return out
end

local function check_cpu(t, what)
  if t and t:device() ~= "cpu" then fail(what .. " is on " .. t:device() .. ": plans run on the CPU") end
end

-- Adds the modules of list to branch `head` (0: trunk) of the C plan, one fusion step
-- (mtcnn.nn.fuse) at a time.
local function compile(p, head, list)
  for _, s in ipairs(fuse.steps(list, true)) do
    local m = s.layer
    if is(m, "nn.Conv2d") or is(m, "nn.Linear") then
      check_cpu(m.weight, (m.name or m.__name) .. ".weight")
      local slopes = s.prelu and s.prelu.weight
      if s.prelu then check_cpu(slopes, (s.prelu.name or "prelu") .. ".weight") end
      local pool = s.pool
      if is(m, "nn.Linear") then
        p:add_linear(head, m.weight, m.bias, slopes)
      elseif pool then
        p:add_conv(head, m.weight, m.bias, slopes, m.sh, m.sw, m.ph, m.pw,
          pool.kh, pool.kw, pool.sh, pool.sw)
      else
        p:add_conv(head, m.weight, m.bias, slopes, m.sh, m.sw, m.ph, m.pw)
      end
    elseif is(m, "nn.Softmax") then
      p:add_softmax(head)
    elseif not m.identity_in_eval then
      fail(("cannot compile %s (module %d)%s"):format(tostring(m.__name), s.first,
        (m.fusable_prelu or m.fusable_pool) and ": it must follow a Conv2d or Linear" or ""))
    end
  end
end

--- Compiles net (see the header); raises naming what cannot be compiled.
function Plan.new(net)
  local mods = is(net, "nn.Sequential") and flatten(net.modules) or {net}
  local heads = mods[#mods]
  local keys = {}
  if is(heads, "nn.Heads") then
    mods[#mods] = nil
    for i, h in ipairs(heads.heads) do keys[i] = h.key end
  else
    heads = nil
  end
  for k, m in ipairs(mods) do
    if is(m, "nn.Heads") then fail(("nn.Heads must be the last module (found at %d)"):format(k)) end
  end
  local p = core.plan.new(math.max(1, #keys))
  compile(p, 0, mods)
  if heads then
    for i, h in ipairs(heads.heads) do
      local m = h.module
      compile(p, i, is(m, "nn.Sequential") and flatten(m.modules) or {m})
    end
  end
  return setmetatable({c = p, keys = keys, outs = {}}, Plan)
end

-- The output tensors (and the table handed back) for input position i.
local function outputs(self, i)
  local o = self.outs[i]
  if not o then
    o = {tensors = {}, result = {}}
    for h = 1, math.max(1, #self.keys) do o.tensors[h] = T.empty(0) end
    self.outs[i] = o
  end
  return o
end

local function result(self, o)
  if #self.keys == 0 then return o.tensors[1] end
  for h, key in ipairs(self.keys) do
    o.result[key] = o.tensors[h]
    o.result[h] = o.tensors[h]
  end
  return o.result
end

--- Runs the net on x: a tensor, or a table {cls =, box =, ...} when the net ends in nn.Heads.
function Plan:forward(x)
  local o = outputs(self, 1)
  self.c:run({x}, o.tensors)
  return result(self, o)
end

--- Runs the net on every input of the list at once (one task each, largest first); returns
--- a list of results as forward gives them.
function Plan:forward_many(xs)
  local flat, res = {}, {}
  for i = 1, #xs do
    local o = outputs(self, i)
    for _, t in ipairs(o.tensors) do flat[#flat + 1] = t end
  end
  self.c:run(xs, flat)
  for i = 1, #xs do res[i] = result(self, self.outs[i]) end
  return res
end

return Plan

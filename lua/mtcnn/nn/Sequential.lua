-- mtcnn.nn.Sequential: runs its modules one after the other.
--
--   local s = nn.Sequential():add(nn.Conv2d(3, 10, 3), "conv1"):add(nn.PReLU(10), "prelu1")
--   s:get(1), s:size(), s.modules
--
-- A name given to add() is the module's parameter prefix (conv1.weight, conv1.bias). An error
-- inside a module is re-raised as "In 3 module (conv2) of nn.Sequential: <message>".
--
-- In evaluate mode, a Conv2d or Linear followed by a PReLU runs as one fused pass (bias and
-- PReLU applied as the output is written); the PReLU's output is then the same tensor as
-- the layer's (modules that are the identity in evaluate mode, as Dropout, may sit between).
-- A MaxPool2d right after a Conv2d's PReLU joins the pass (the pooled result is written into
-- the pool's output, which the PReLU's output then is; the convolution's own output is not
-- written: no pre-pooling map is ever stored). Set s.fuse = false to keep every layer's own
-- output (for inspection). The pattern is matched by mtcnn.nn.fuse, as for nn.plan.
--
-- In training mode, a PReLU between a Conv2d and a MaxPool2d runs with the pooling as one
-- pass each way (the convolution's output in, the pooled map out; the pooled gradient in,
-- the convolution's output gradient out): the PReLU's own full-size output and the pooling's
-- input gradient are never stored, and the numbers are those of the separate layers (slope
-- gradients to float rounding). The PReLU's output is then the pool's. A first layer's
-- (skip_input_grad) backward forms its parameter gradients from the pooled gradient.

local Module = require "mtcnn.nn.Module"
local fuse = require "mtcnn.nn.fuse"
local util = require "mtcnn.nn.util"

local Sequential = Module:extend("nn.Sequential")

function Sequential:init()
  self.modules = {}
  self.fuse = true
  -- pooled_pair[i]: the last forward ran module i (a MaxPool2d) with the PReLU before it as
  -- one training pass
  self.pooled_pair = {}
  self.fuse_cache = {} -- the fusion steps of each mode (mtcnn.nn.fuse)
end

function Sequential:add(m, name)
  if type(m) ~= "table" or type(m.forward) ~= "function" then
    error("Sequential:add: expected an nn module, got " .. type(m), 2)
  end
  if name ~= nil then m.name = name end
  self.modules[#self.modules + 1] = m
  self._grad_list = nil
  return self
end

function Sequential:get(i)
  return self.modules[i]
end

function Sequential:size()
  return #self.modules
end

function Sequential:children()
  return self.modules
end

local function label(m, i)
  return m.name and ("%d module (%s)"):format(i, m.name) or ("%d module"):format(i)
end

-- Calls fn(m, ...) and re-raises an error with the module's position.
local function call(self, i, fn, m, ...)
  local ok, r = pcall(fn, m, ...)
  if not ok then
    error(("In %s of %s: %s"):format(label(m, i), self.__name, util.error_message(r)), 0)
  end
  return r
end

-- One step of the fusion pass (see the header): returns its output.
local function run_step(self, s, out, training)
  local mods, m, i = self.modules, s.layer, s.first
  if training and s.prelu and s.pool and s.prelu.forward_pooled then
    -- the convolution alone, then its PReLU and pooling in one pass
    local z = call(self, i, m.forward, m, out)
    out = call(self, i + 1, s.prelu.forward_pooled, s.prelu, z, s.pool)
    self.pooled_pair[s.last] = true
  elseif not training and s.prelu then
    if s.pool then
      out = call(self, i, m.forward_pooled, m, out, s.prelu.weight, s.pool)
    else
      out = call(self, i, m.forward_fused, m, out, s.prelu.weight)
    end
    for k = i + 1, s.last do mods[k].output = out end
    self.fused_pass = true
  else
    for k = i, s.last do out = call(self, k, mods[k].forward, mods[k], out) end
  end
  return out
end

function Sequential:update_output(x)
  local mods, pooled = self.modules, self.pooled_pair
  self.fused_pass = false
  for k = 1, #mods do pooled[k] = false end
  local out = x
  if self.fuse then
    local training = self.is_training
    for _, s in ipairs(fuse.steps(mods, not training, self.fuse_cache)) do
      out = run_step(self, s, out, training)
    end
  else
    for i, m in ipairs(mods) do out = call(self, i, m.forward, m, out) end
  end
  self.output = out
  return out
end

-- A fused pass keeps no pre-activation values: gradients need an unfused forward.
local function check_unfused(self)
  if self.fused_pass then
    error(self.__name .. ": backward after a fused evaluate-mode forward; call training() (or " ..
      "set fuse = false) before forward", 3)
  end
end

-- The backward of a training pair ending at module i (the pool): the PReLU (module i - 1)
-- takes the pooled gradient g to its input's gradient; returns the index of the next module
-- (the convolution) and that gradient.
local function pooled_pair_backward(self, i, g, want_input, want_params)
  local mods = self.modules
  local act = mods[i - 1]
  g = call(self, i - 1, act.backward_pooled, act, mods[i - 2].output, mods[i], g, want_input,
    want_params)
  return i - 2, g
end

-- Walks the modules backwards from gy with method fn ("backward": input and parameter
-- gradients; "update_grad_input": input gradients only) and returns the input gradient.
local function walk_back(self, x, gy, fn)
  local mods, pooled = self.modules, self.pooled_pair
  local params = fn == "backward"
  local g = gy
  local i = #mods
  while i >= 1 do
    local conv = pooled[i] and mods[i - 2]
    if params and conv and conv.skip_input_grad and conv.backward_params_pooled then
      -- a first layer: its parameter gradients straight from the pooled gradient
      call(self, i - 2, conv.backward_params_pooled, conv, i > 3 and mods[i - 3].output or x,
        mods[i - 1], mods[i], g)
      conv.grad_input = nil
      g = nil
      break
    end
    if pooled[i] then i, g = pooled_pair_backward(self, i, g, true, params) end
    local m = mods[i]
    local input = i > 1 and mods[i - 1].output or x
    g = call(self, i, m[fn], m, input, g)
    if g == nil then break end -- the first layer skipped its input gradient
    i = i - 1
  end
  self.grad_input = g
  return g
end

function Sequential:backward(x, gy)
  check_unfused(self)
  return walk_back(self, x, gy, "backward")
end

function Sequential:update_grad_input(x, gy)
  check_unfused(self)
  return walk_back(self, x, gy, "update_grad_input")
end

function Sequential:acc_grad_parameters(x, gy)
  -- needs every module's output gradient: run through update_grad_input's results
  local mods, pooled = self.modules, self.pooled_pair
  local g = gy
  local i = #mods
  while i >= 1 do
    if pooled[i] then
      -- the slope gradient from the pooled gradient; the PReLU's input gradient is the one
      -- update_grad_input left
      pooled_pair_backward(self, i, g, false, true)
      g = mods[i - 1].grad_input
      i = i - 2
    end
    local m = mods[i]
    local input = i > 1 and mods[i - 1].output or x
    call(self, i, m.acc_grad_parameters, m, input, g)
    g = m.grad_input
    if g == nil then break end
    i = i - 1
  end
end

function Sequential:describe(indent)
  indent = indent or ""
  local inner = indent .. "  "
  local chain = {"input"}
  for i = 1, #self.modules do chain[#chain + 1] = ("(%d)"):format(i) end
  chain[#chain + 1] = "output"
  local lines = {self.__name .. " {", inner .. "[" .. table.concat(chain, " -> ") .. "]"}
  if self.title then table.insert(lines, 1, indent .. self.title) end
  for i, m in ipairs(self.modules) do
    local name = m.name and (m.name .. ": ") or ""
    lines[#lines + 1] = ("%s(%d) %s%s"):format(inner, i, name, m:describe(inner))
  end
  lines[#lines + 1] = indent .. "}"
  return table.concat(lines, "\n")
end

return Sequential

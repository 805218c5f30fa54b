-- mtcnn.nn.Module: the base of every layer and container (Torch7 nn's API in snake_case).
--
--   m:forward(input) -> output            (m.output is reused from call to call)
--   m:backward(input, grad_output) -> grad_input
--                                          (accumulates parameter gradients)
--   m:parameters() -> {weights...}, {gradients...}
--   m:named_parameters() -> {{name =, tensor =, grad =, kind =}, ...}
--   m:zero_grad(), m:training(), m:evaluate(), m.is_training
--   m:to(device)                           (every tensor of the module and its children;
--                                          parameters and gradients keep their identity)
--
-- A subclass implements update_output(input), update_grad_input(input, grad_output) and,
-- when it has parameters, acc_grad_parameters(input, grad_output); its parameters are
-- weight (of kind weight_kind, a class field) and bias, with gradients grad_weight and
-- grad_bias (else it overrides param_list()). A container returns its modules from
-- children(): parameters, modes and devices then reach them. Outputs and gradient buffers
-- are tensors owned by the module and resized in place, so a warm training step allocates
-- nothing.

local T = require "mtcnn.tensor"
local class = require "mtcnn.nn.class"

local Module = class("nn.Module")

-- Instances start in training mode (evaluate() gives them their own field). name, the
-- parameter prefix (conv1, prelu1, ...), is given by the container.
Module.is_training = true

-- Nothing to set up: a subclass's init need not call this one.
function Module:init() end

--- Module:extend(name) -> a subclass (nn.class), as Conv2d = Module:extend("nn.Conv2d").
function Module:extend(name)
  return class(name, self)
end

function Module:forward(input)
  return self:update_output(input)
end

function Module:backward(input, grad_output)
  local gi = self:update_grad_input(input, grad_output)
  self:acc_grad_parameters(input, grad_output)
  return gi
end

function Module:update_output(input)
  self.output = input
  return input
end

function Module:update_grad_input(_, grad_output)
  self.grad_input = grad_output
  return grad_output
end

function Module:acc_grad_parameters() end

local NO_CHILDREN = {}

-- The modules inside this one (a container's; none for a layer).
function Module:children() return NO_CHILDREN end

-- {suffix, tensor, grad, kind} entries of this module's own parameters: weight and bias.
function Module:param_list()
  local l = {}
  if self.weight then l[1] = {"weight", self.weight, self.grad_weight, self.weight_kind} end
  if self.bias then l[#l + 1] = {"bias", self.bias, self.grad_bias, "bias"} end
  return l
end

-- This module's parameters, then its children's.
function Module:named_parameters(list)
  list = list or {}
  for _, p in ipairs(self:param_list()) do
    local name = self.name and (self.name .. "." .. p[1]) or p[1]
    list[#list + 1] = {name = name, tensor = p[2], grad = p[3], kind = p[4]}
  end
  for _, c in ipairs(self:children()) do c:named_parameters(list) end
  return list
end

function Module:parameters()
  local params, grads = {}, {}
  for i, e in ipairs(self:named_parameters()) do
    params[i], grads[i] = e.tensor, e.grad
  end
  return params, grads
end

-- Number of learnable values.
function Module:num_parameters()
  local n = 0
  for _, e in ipairs(self:named_parameters()) do n = n + e.tensor:numel() end
  return n
end

-- Zeroes every parameter gradient. The list of gradients is cached (a training step then
-- builds no Lua tables); to(device) and add() drop the cache.
function Module:zero_grad()
  local grads = self._grad_list
  if not grads then
    grads = {}
    for i, e in ipairs(self:named_parameters()) do grads[i] = e.grad end
    self._grad_list = grads
  end
  for i = 1, #grads do grads[i]:zero_() end
  return self
end

function Module:training()
  self.is_training = true
  for _, c in ipairs(self:children()) do c:training() end
  return self
end

function Module:evaluate()
  self.is_training = false
  for _, c in ipairs(self:children()) do c:evaluate() end
  return self
end

-- The device of the module's tensors (Module:to sets it; lazily made buffers follow it).
Module.device = "cpu"

-- Moves every tensor field (parameters, gradients, buffers) to device ("cpu" or "cuda"),
-- then the children. Parameters and their gradients move in place (tensor:move_): the lists
-- that hold them (net:parameters() given to an optimiser, a loss's penalty list) stay valid,
-- so an optimiser made before the move only needs its own state moved (opt:to(device)). The
-- other fields (outputs, buffers, which may be a caller's tensors) are replaced by copies.
function Module:to(device)
  self._grad_list = nil
  self.device = device
  local own = {}
  for _, p in ipairs(self:param_list()) do
    own[p[2]] = true
    if p[3] then own[p[3]] = true end
  end
  for k, v in pairs(self) do
    if T.is_tensor(v) then
      if own[v] then v:move_(device) else self[k] = v:to(device) end
    end
  end
  for _, c in ipairs(self:children()) do c:to(device) end
  return self
end

--- m:cuda() -> m:to("cuda"); m:cpu() -> m:to("cpu")
function Module:cuda() return self:to("cuda") end
function Module:cpu() return self:to("cpu") end

-- A one-line description (containers print their children too).
function Module:describe()
  return self.__name
end

function Module:__tostring()
  return self:describe("")
end

return Module

-- mtcnn.nn.Heads: several output heads reading the same input (classification, box
-- regression, landmarks).
--
--   local heads = nn.Heads():add("cls", cls_module):add("box", box_module)
--   local out = heads:forward(x)   -- out.cls, out.box (and out[1], out[2] in add order)
--   heads:backward(x, {cls = g1, box = g2})   -- a missing gradient means "no loss on it"
--
-- The output table is reused from call to call. The input gradient is the sum of the
-- heads' input gradients.

local Module = require "mtcnn.nn.Module"
local util = require "mtcnn.nn.util"

local Heads = Module:extend("nn.Heads")

function Heads:init()
  self.heads = {} -- {key =, module =} in order
  self.output = {}
end

function Heads:add(key, m)
  if type(key) ~= "string" then error("Heads:add: the first argument is the head's name", 2) end
  if type(m) ~= "table" or type(m.forward) ~= "function" then
    error("Heads:add: expected an nn module for head " .. key, 2)
  end
  for _, h in ipairs(self.heads) do
    if h.key == key then error("Heads:add: duplicate head " .. key, 2) end
  end
  self.heads[#self.heads + 1] = {key = key, module = m}
  self._grad_list = nil
  return self
end

function Heads:get(key)
  for i, h in ipairs(self.heads) do
    if h.key == key or i == key then return h.module end
  end
  return nil
end

local function call(self, h, fn, a, b)
  local ok, r = pcall(fn, h.module, a, b)
  if not ok then
    error(("In head %s of %s: %s"):format(h.key, self.__name, util.error_message(r)), 0)
  end
  return r
end

function Heads:update_output(x)
  local out = self.output
  for i, h in ipairs(self.heads) do
    local o = call(self, h, h.module.forward, x)
    out[h.key] = o
    out[i] = o
  end
  return out
end

-- Runs fn (backward or update_grad_input) on every head that has a gradient; sums the input
-- gradients into this container's own buffer.
local function gradients(self, fn, x, g)
  local total, count = nil, 0
  for i, h in ipairs(self.heads) do
    local gh = g[h.key]
    if gh == nil then gh = g[i] end
    if gh ~= nil then
      local gi = call(self, h, h.module[fn], x, gh)
      if gi ~= nil then
        count = count + 1
        if count == 1 then
          total = gi
        else
          if count == 2 then
            self.sum_buf = util.like(self.sum_buf, total)
            total = self.sum_buf:copy_(total)
          end
          total:add_(gi)
        end
      end
    end
  end
  self.grad_input = total
  return total
end

function Heads:backward(x, g)
  return gradients(self, "backward", x, g)
end

function Heads:update_grad_input(x, g)
  return gradients(self, "update_grad_input", x, g)
end

function Heads:acc_grad_parameters(x, g)
  for i, h in ipairs(self.heads) do
    local gh = g[h.key]
    if gh == nil then gh = g[i] end
    if gh ~= nil then call(self, h, h.module.acc_grad_parameters, x, gh) end
  end
end

function Heads:children()
  local list = {}
  for i, h in ipairs(self.heads) do list[i] = h.module end
  return list
end

function Heads:describe(indent)
  indent = indent or ""
  local inner = indent .. "  "
  local lines = {self.__name .. " {"}
  for _, h in ipairs(self.heads) do
    lines[#lines + 1] = ("%s%s: %s"):format(inner, h.key, h.module:describe(inner))
  end
  lines[#lines + 1] = indent .. "}"
  return table.concat(lines, "\n")
end

return Heads

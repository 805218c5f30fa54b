-- mtcnn.nn.class: the small class system of the nn modules.
--
--   local Conv2d = class("nn.Conv2d", Module)   -- name, optional parent
--   function Conv2d:init(...) ... end           -- the constructor body
--   local m = Conv2d(...)                        -- a new instance
--
-- Instances look methods up in their class, then in the parents. class.is_a(obj,
-- cls) tells whether obj is an instance of cls or of a subclass.

local class = {}

local function new_class(_, name, parent)
  local cls = {}
  cls.__index = cls
  cls.__name = name
  cls.parent = parent
  if parent then
    -- metamethods are not inherited through __index: copy the ones the parent defines
    for _, k in ipairs({"__tostring", "__close"}) do
      if rawget(parent, k) then cls[k] = parent[k] end
    end
  end
  setmetatable(cls, {
    __index = parent,
    __call = function(c, ...)
      local obj = setmetatable({}, c)
      if c.init then c.init(obj, ...) end
      return obj
    end,
  })
  return cls
end

setmetatable(class, {__call = new_class})

function class.is_a(obj, cls)
  if type(obj) ~= "table" then return false end
  local c = getmetatable(obj)
  while c do
    if c == cls then return true end
    c = c.parent
  end
  return false
end

return class

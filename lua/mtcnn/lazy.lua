-- mtcnn.lazy: a table whose fields are modules required on first access (the submodules of
-- require "mtcnn" and of mtcnn.eval), so that loading the package loads nothing it does
-- not use.
--
--   local M = lazy("mtcnn.", {"tensor", "nn"} [, M])   -- M.tensor requires "mtcnn.tensor"
--
-- pairs(M) lists the submodules too (loading each as it comes to it); the REPL's completion
-- reads their names from getmetatable(M).__submodules without loading them.

return function(prefix, names, t)
  local known = {}
  for _, name in ipairs(names) do known[name] = true end
  return setmetatable(t or {}, {
    __submodules = names,
    __index = function(self, key)
      if not known[key] then return nil end
      local mod = require(prefix .. key)
      rawset(self, key, mod)
      return mod
    end,
    -- the fields set so far, then the submodules not loaded yet; the keys are listed first,
    -- since loading a submodule adds a field, which next() must not meet mid-traversal
    __pairs = function(self)
      local keys = {}
      for k in next, self do keys[#keys + 1] = k end
      for _, name in ipairs(names) do
        if rawget(self, name) == nil then keys[#keys + 1] = name end
      end
      local i = 0
      return function()
        i = i + 1
        local k = keys[i]
        if k ~= nil then return k, self[k] end
      end, self, nil
    end,
  })
end

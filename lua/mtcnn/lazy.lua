-- mtcnn.lazy: a table whose fields are modules required on first access (the submodules of
-- require "mtcnn" and of mtcnn.eval), so that loading the package loads nothing it does
-- not use.
--
--   local M = lazy("mtcnn.", {"tensor", "nn"} [, M])   -- M.tensor requires "mtcnn.tensor"

return function(prefix, names, t)
  local known = {}
  for _, name in ipairs(names) do known[name] = true end
  return setmetatable(t or {}, {
    __index = function(self, key)
      if not known[key] then return nil end
      local mod = require(prefix .. key)
      rawset(self, key, mod)
      return mod
    end,
  })
end

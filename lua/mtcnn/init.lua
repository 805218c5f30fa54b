-- mtcnn: the entry point of the Lua API.
--
--   local mtcnn = require "mtcnn"
--   local T = mtcnn.tensor          -- submodules load on first use
--
-- mtcnn.home is the project's folder (source tree or install prefix), where
-- scripts/, examples/ and the bundled models live.

local core = require "mtcnn.core"

local M = {
  version = core.version,
}

-- The project's folder, from where this file was loaded: <home>/lua/mtcnn/init.lua.
do
  local source = debug.getinfo(1, "S").source
  local home = source:match("^@(.*)/lua/mtcnn/init%.lua$")
  if home == nil and source:match("^@lua/mtcnn/init%.lua$") then home = "." end
  M.home = home
end

-- Submodules, loaded on first access (mtcnn.tensor requires "mtcnn.tensor").
require("mtcnn.lazy")("mtcnn.", {
  "tensor", "cuda", "sys", "json", "cli", "nn", "optim", "models", "image", "box", "sample", "data",
  "record", "loader", "progress", "detector", "faces", "eval", "repl",
}, M)

--- mtcnn.global(name, value) sets a global, declaring it when mtcnn.strict() is on.
function M.global(k, v)
  rawset(_G, k, v)
end

-- Opt-in strict globals: reading or assigning an undeclared global raises.
-- Catches typos in long training scripts. Declare with mtcnn.global(name, value).
function M.strict(env)
  env = env or _G
  local declared = {}
  for k in pairs(env) do declared[k] = true end
  setmetatable(env, {
    __newindex = function(t, k, v)
      if not declared[k] then
        error(("assignment to undeclared global '%s' (use mtcnn.global)"):format(tostring(k)), 2)
      end
      rawset(t, k, v)
    end,
    __index = function(_, k)
      error(("undeclared global '%s'"):format(tostring(k)), 2)
    end,
  })
  M.global = function(k, v)
    declared[k] = true
    rawset(env, k, v)
  end
  return env
end

return M

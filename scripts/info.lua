-- info.lua: what this build of mtcnn is and what it can use.
--   mtcnn scripts/info.lua [--json]

local mtcnn = require "mtcnn"
local cli = require "mtcnn.cli"
local json = require "mtcnn.json"

local args = cli.script(arg, {
  name = "info.lua",
  usage = "mtcnn scripts/info.lua [--json]",
  description = "Prints the version, the project folder, the CPU and the CUDA device.",
  options = {{name = "json", kind = "flag", help = "print one JSON object"}},
})

local info = {
  version = mtcnn.version,
  lua = _VERSION,
  home = mtcnn.home,
  cpus = mtcnn.sys.cpu_count(),
  cuda_compiled = mtcnn.cuda.compiled(),
  cuda_available = mtcnn.cuda.available(),
}
local dev, why = mtcnn.cuda.device_info()
if dev then
  info.gpu = dev.name
  info.gpu_capability = dev.capability
  info.gpu_memory_gib = dev.total_memory / 2 ^ 30
else
  info.cuda_status = why
end

if args.json then
  print(json.encode(info))
else
  for _, k in ipairs({"version", "lua", "home", "cpus", "cuda_compiled", "cuda_available", "gpu",
                      "gpu_capability", "gpu_memory_gib", "cuda_status"}) do
    if info[k] ~= nil then print(("%-16s %s"):format(k, tostring(info[k]))) end
  end
end

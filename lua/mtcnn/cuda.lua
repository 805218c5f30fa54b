-- mtcnn.cuda: whether a GPU can be used, and what it is.
--
--   cuda.available()    true when a CUDA device is present and this build has the backend
--   cuda.compiled()     true when this build contains the CUDA backend
--   cuda.device_info()  {name, capability, total_memory, free_memory, multiprocessors,
--                        count, index, runtime_version, driver_version} or nil, reason
--   cuda.synchronize()  waits for queued GPU work (before reading a timer)

local core = require "mtcnn.core"

return core.cuda

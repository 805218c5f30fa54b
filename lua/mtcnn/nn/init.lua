-- mtcnn.nn: layers, containers and the MTCNN loss with forward and backward passes.
--
--   local nn = require "mtcnn.nn"
--   local net = nn.Sequential()
--     :add(nn.Conv2d(3, 10, 3), "conv1"):add(nn.PReLU(10), "prelu1")
--     :add(nn.MaxPool2d(2, 2), "pool1")
--   local y = net:forward(x)                  -- x: NCHW tensor
--   local gx = net:backward(x, grad_y)
--
-- Every layer's arithmetic is C (lua/bind/lmt_nn.c over runtime/nn/mt_nn.h), dispatched to the
-- tensors' device. nn.kernels() / nn.set_kernels(name) choose the CPU kernels ("avx512",
-- "avx2", "generic", "blas", "ref" or "auto"; MTCNN_KERNELS sets it at start-up).

local core = require "mtcnn.core"

local nn = {class = require "mtcnn.nn.class"}

-- Every module of this folder whose name starts with a capital letter (Conv2d.lua, ...,
-- MTCNNLoss.lua) is a class of nn under that name: a new layer is one new file here.
do
  local here = assert(package.searchpath("mtcnn.nn", package.path), "mtcnn.nn: cannot find itself")
  local dir = here:match("^(.*)[/\\]init%.lua$") or "."
  local names = {}
  for _, file in ipairs(core.sys.listdir(dir) or {}) do
    local name = file:match("^(%u[%w_]*)%.lua$")
    if name then names[#names + 1] = name end
  end
  table.sort(names) -- a fixed order of loading
  for _, name in ipairs(names) do nn[name] = require("mtcnn.nn." .. name) end
end

--- nn.plan(net) -> the net compiled for evaluate-mode runs driven from C (mtcnn.nn.Plan):
--- plan:forward(x), plan:forward_many({x1, x2, ...}).
function nn.plan(net)
  return require("mtcnn.nn.Plan").new(net)
end

--- nn.kernels() -> the CPU kernel set in use.
nn.kernels = core.nn.kernels

--- nn.set_kernels(name) -> the previous set (raises for an unknown or unsupported one).
nn.set_kernels = core.nn.set_kernels

--- nn.pool_out_size(in, kernel, stride) -> Caffe's ceil-mode pooling output size.
nn.pool_out_size = core.nn.pool_out_size

return nn

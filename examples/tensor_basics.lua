-- A tour of mtcnn.tensor: creation, views, arithmetic, reductions, files and
-- (when a GPU is present) the same on CUDA.
--   mtcnn examples/tensor_basics.lua [--out DIR]

local mtcnn = require "mtcnn"
local T = mtcnn.tensor

local out_dir = "/tmp"
for i = 1, #arg do
  if arg[i] == "--out" then out_dir = assert(arg[i + 1], "--out needs a folder") end
  if arg[i] == "--help" or arg[i] == "-h" then
    print("usage: mtcnn examples/tensor_basics.lua [--out DIR]")
    return
  end
end

print(("mtcnn %s: tensors on the CPU%s"):format(mtcnn.version,
  mtcnn.cuda.available() and " and on " .. mtcnn.cuda.device_info().name or ""))

-- a batch of two 3x4x4 "images" with reproducible random values
T.manual_seed(2016)
local batch = T.rand(2, 3, 4, 4)
print("\na batch, NCHW:", table.concat(batch:size(), "x"))

-- views share memory: the green channel of the second image
local green = batch:select(1, 2):select(1, 2)
print("\nthe green channel of image 2 (a view):")
print(green)

-- the normalisation MTCNN applies to pixels: (x - 127.5) / 128
local pixels = (batch * 255):sub_(127.5):div_(128)
print(("\nnormalised pixels: min %.4f, max %.4f, mean %.4f"):format(
  pixels:min(), pixels:max(), pixels:mean()))

-- reductions along a dimension keep it with size 1, as in Torch7
local per_channel = batch:mean(4):mean(3)
print("\nmean of each channel of each image:")
print(per_channel:view(2, 3))
local _, where = per_channel:view(2, 3):max(2)
print(("brightest channel: image 1 -> %d, image 2 -> %d"):format(where:get(1, 1), where:get(2, 1)))

-- files are checksummed and written atomically
local path = out_dir .. "/tensor_basics.mtt"
assert(batch:save(path))
local back = assert(T.load(path))
print(("\nsaved and reloaded %s: identical = %s"):format(path, tostring(back:equal(batch))))
os.remove(path)

if mtcnn.cuda.available() then
  local g = batch:cuda()
  local diff = (g * 2 + 1):cpu():max_abs_diff(batch * 2 + 1)
  print(("on the GPU: max |cpu - gpu| = %g"):format(diff))
else
  local _, why = mtcnn.cuda.device_info()
  print("\nno GPU here: " .. tostring(why))
end

-- Finite-difference gradient checks for nn modules and losses (used by the nn specs).
--
--   gradcheck.module(m, x, {eps =, tol =, probes =, params = true})
-- checks, for the scalar f(x) = sum(m:forward(x) .* R) with a fixed random R, the input
-- gradient from m:backward(x, R) and every parameter gradient against central differences
-- (f(v + eps) - f(v - eps)) / (2 eps) at `probes` random positions of each tensor. The
-- error allowed at a position is tol * max(1, |numeric|, |analytic|).

local mtcnn = require "mtcnn"
local T = mtcnn.tensor

local gradcheck = {}

-- Flat positions 1..n to probe: all when few, else a seeded random sample.
local function positions(n, probes, g)
  local list = {}
  if n <= probes then
    for i = 1, n do list[i] = i end
    return list
  end
  local seen = {}
  while #list < probes do
    local i = g:integer(1, n)
    if not seen[i] then
      seen[i] = true
      list[#list + 1] = i
    end
  end
  return list
end

-- Reads and writes element i (1-based, row-major) of a contiguous tensor.
local function flat(t) return t:view(t:numel()) end

-- The objective: sum over outputs of output .* R (outputs may be a table of tensors).
local function objective(out, r)
  if type(out) == "table" and not T.is_tensor(out) then
    local s = 0
    for k, rk in pairs(r) do
      if out[k] then s = s + (out[k] * rk):sum() end
    end
    return s
  end
  return (out * r):sum()
end

local function random_like(out, g)
  if type(out) == "table" and not T.is_tensor(out) then
    local r = {}
    for k, v in pairs(out) do
      if type(k) == "string" then r[k] = T.randn(v:size(), g) end
    end
    return r
  end
  return T.randn(out:size(), g)
end

-- Compares numeric and analytic derivatives of f with respect to tensor `t` (whose analytic
-- gradient is `grad`) at a few positions; raises with the first mismatch.
function gradcheck.compare(what, t, grad, f, opts, g)
  local eps, tol = opts.eps or 1e-2, opts.tol or 2e-2
  local ft, fg = flat(t), flat(grad)
  local worst = 0
  for _, i in ipairs(positions(t:numel(), opts.probes or 24, g)) do
    local v = ft[i]
    ft[i] = v + eps
    local fp = f()
    ft[i] = v - eps
    local fm = f()
    ft[i] = v
    local num = (fp - fm) / (2 * eps)
    local ana = fg[i]
    local err = math.abs(num - ana) / math.max(1, math.abs(num), math.abs(ana))
    worst = math.max(worst, err)
    if err > tol then
      error(("%s: element %d: numeric %.6g, analytic %.6g (relative error %.3g > %g)"):format(
        what, i, num, ana, err, tol), 2)
    end
  end
  return worst
end

function gradcheck.module(m, x, opts)
  opts = opts or {}
  local g = T.generator(opts.seed or 7)
  local out = m:forward(x)
  local r = random_like(out, g)
  m:zero_grad()
  local gx = m:backward(x, r)
  -- copies: later forwards reuse the module's buffers
  local checks = {}
  if gx and opts.input ~= false then checks[#checks + 1] = {"input", x, gx:clone()} end
  if opts.params ~= false then
    for _, e in ipairs(m:named_parameters()) do
      checks[#checks + 1] = {e.name, e.tensor, e.grad:clone()}
    end
  end
  local function f() return objective(m:forward(x), r) end
  local worst = 0
  for _, c in ipairs(checks) do
    worst = math.max(worst, gradcheck.compare(c[1], c[2], c[3], f, opts, g))
  end
  return worst, #checks
end

return gradcheck

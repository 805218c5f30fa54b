-- mtcnn.eval.plot: PNG pictures of evaluation curves, drawn by gnuplot
-- (Debian: gnuplot-nox), several runs per plot.
--
--   plot.available() -> gnuplot path | nil, reason
--   plot.wider(runs, path)            PR curves, one panel per setting
--   plot.fddb(runs, path [, max_fp])  discrete and continuous ROC
--   plot.landmarks(runs, path [, max_nme])  cumulative error distribution
--   plot.draw(figure, path)           the general form (below)
--
-- runs are result documents (mtcnn.eval.results): {label, summary, curves}.
-- Every function returns true, or nil, a message and why: "missing" when gnuplot
-- is absent (an optional tool: the caller goes on without the picture), "failed" when
-- gnuplot or the writing of the PNG failed (an output that could not be written).
-- MTCNN_GNUPLOT names the gnuplot program (default: gnuplot on the PATH).
--
-- figure = {title, width, height, panels = {{title, xlabel, ylabel, xrange =
-- {lo, hi}, yrange = {lo, hi}, logx, key = "bottom right", series = {{label,
-- x = {...}, y = {...}, steps}}}}}. Points whose x or y is not a number
-- (NaN, JSON null) are skipped. The PNG is written to a temporary name and
-- renamed onto path.

local sys = require("mtcnn.core").sys

local plot = {}

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- A gnuplot single-quoted string ('' stands for one quote).
local function gq(s)
  return "'" .. tostring(s):gsub("'", "''"):gsub("\n", " ") .. "'"
end

local function program()
  return os.getenv("MTCNN_GNUPLOT") or "gnuplot"
end

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1", "r")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
end

local terminal_cache = {}

--- The gnuplot program when it can run, else nil and the reason.
function plot.available()
  local prog = program()
  local ok, out = run(shell_quote(prog) .. " --version")
  if not ok or not out:match("gnuplot") then
    return nil, ("gnuplot is not available (%s): install gnuplot-nox (Debian) for the pictures; "
      .. "the numbers are unaffected"):format(prog)
  end
  return prog
end

-- pngcairo when this gnuplot has it (antialiased), else the plain png terminal.
local function terminal(prog)
  if terminal_cache[prog] then return terminal_cache[prog] end
  local _, out = run(shell_quote(prog) .. " -e " .. shell_quote("set terminal pngcairo"))
  local t = out:match("unknown") and "png" or "pngcairo"
  terminal_cache[prog] = t
  return t
end

local function is_num(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

local function tmp_base()
  return ("%s/mtcnn-plot.%d.%d"):format(os.getenv("TMPDIR") or "/tmp", sys.pid(),
    math.floor(sys.clock() * 1e6) % 1000000000)
end

--- Draws a figure into path (PNG) -> true | nil, message, "missing" | "failed".
function plot.draw(figure, path)
  local prog, why = plot.available()
  if not prog then return nil, why, "missing" end
  local base = tmp_base()
  local data_path, script_path, png_tmp = base .. ".dat", base .. ".gp", path .. ".tmp." .. sys.pid()
  local function cleanup()
    os.remove(data_path)
    os.remove(script_path)
    os.remove(png_tmp)
  end
  -- every series is one block of the data file (gnuplot "index")
  local data, index = {}, 0
  local lines = {}
  local width, height = figure.width or 640 * #figure.panels, figure.height or 520
  local term = terminal(prog)
  lines[#lines + 1] = ("set terminal %s noenhanced size %d,%d%s"):format(term, width, height,
    term == "pngcairo" and " font 'DejaVu Sans,10'" or "")
  lines[#lines + 1] = "set output " .. gq(png_tmp)
  lines[#lines + 1] = "set grid"
  lines[#lines + 1] = ("set multiplot layout 1,%d title %s"):format(#figure.panels, gq(figure.title or ""))
  for _, panel in ipairs(figure.panels) do
    lines[#lines + 1] = "set title " .. gq(panel.title or "")
    lines[#lines + 1] = "set xlabel " .. gq(panel.xlabel or "")
    lines[#lines + 1] = "set ylabel " .. gq(panel.ylabel or "")
    if panel.xrange then lines[#lines + 1] = ("set xrange [%g:%g]"):format(panel.xrange[1], panel.xrange[2])
    else lines[#lines + 1] = "set autoscale x" end
    if panel.yrange then lines[#lines + 1] = ("set yrange [%g:%g]"):format(panel.yrange[1], panel.yrange[2])
    else lines[#lines + 1] = "set autoscale y" end
    lines[#lines + 1] = panel.logx and "set logscale x" or "unset logscale x"
    lines[#lines + 1] = "set key " .. (panel.key or "bottom right") .. " box opaque"
    local parts = {}
    for _, s in ipairs(panel.series) do
      local block = {}
      for i = 1, math.min(#s.x, #s.y) do
        if is_num(s.x[i]) and is_num(s.y[i]) then block[#block + 1] = ("%.9g %.9g"):format(s.x[i], s.y[i]) end
      end
      if #block == 0 then block[1] = "NaN NaN" end -- keeps the block (and the legend entry)
      data[#data + 1] = table.concat(block, "\n")
      parts[#parts + 1] = ("%s index %d using 1:2 with %s lw 2 title %s"):format(gq(data_path), index,
        s.steps and "steps" or "lines", gq(s.label or ""))
      index = index + 1
    end
    if #parts == 0 then parts[1] = "NaN notitle" end
    lines[#lines + 1] = "plot " .. table.concat(parts, ", \\\n     ")
  end
  lines[#lines + 1] = "unset multiplot"
  lines[#lines + 1] = "set output"
  local df = io.open(data_path, "wb")
  local sf = io.open(script_path, "wb")
  if not df or not sf then
    if df then df:close() end
    if sf then sf:close() end
    cleanup()
    return nil, "plot: cannot write temporary files under " .. (os.getenv("TMPDIR") or "/tmp"), "failed"
  end
  df:write(table.concat(data, "\n\n\n"), "\n")
  df:close()
  sf:write(table.concat(lines, "\n"), "\n")
  sf:close()
  local ok, out = run(shell_quote(prog) .. " " .. shell_quote(script_path))
  local f = io.open(png_tmp, "rb")
  local size = f and f:seek("end") or 0
  if f then f:close() end
  if not ok or size == 0 then
    cleanup()
    return nil, "plot: gnuplot failed: " .. (out ~= "" and out:gsub("%s+$", "") or "no output"), "failed"
  end
  local renamed, err = os.rename(png_tmp, path)
  if not renamed then
    cleanup()
    return nil, ("plot: cannot write %s: %s"):format(path, tostring(err)), "failed"
  end
  os.remove(data_path)
  os.remove(script_path)
  return true
end

local function fmt3(v)
  return is_num(v) and ("%.3f"):format(v) or "n/a"
end

-- One panel per key, one series per run: line(run, key) -> label, x, y of the run's series;
-- panel(key) -> the panel's other fields.
local function panels_of(runs, keys, line, panel)
  local panels = {}
  for _, key in ipairs(keys) do
    local p = panel(key)
    p.series = {}
    for _, run_ in ipairs(runs) do
      local label, x, y = line(run_, key)
      p.series[#p.series + 1] = {label = label, x = x, y = y}
    end
    panels[#panels + 1] = p
  end
  return panels
end

--- PR curves of WIDER runs: one panel per setting, AP in the legend.
function plot.wider(runs, path)
  local panels = panels_of(runs, {"easy", "medium", "hard"}, function(run_, setting)
    local c = run_.curves[setting] or {}
    return ("%s (AP %s)"):format(run_.label, fmt3(run_.summary[setting])), c.recall or {},
      c.precision or {}
  end, function(setting)
    return {title = setting, xlabel = "Recall", ylabel = "Precision", xrange = {0, 1},
            yrange = {0, 1}, key = "bottom left"}
  end)
  return plot.draw({title = "WIDER FACE val: precision-recall", panels = panels}, path)
end

--- Discrete and continuous ROC of FDDB runs, FP axis up to max_fp (default 2000).
function plot.fddb(runs, path, max_fp)
  max_fp = max_fp or 2000
  local panels = panels_of(runs, {"discrete", "continuous"}, function(run_, kind)
    local c = run_.curves[kind] or {}
    local s = run_.summary[kind] or {}
    return ("%s (TPR %s at 1000 FP)"):format(run_.label, fmt3(s.tpr_at_1000)), c.fp or {},
      c.tpr or {}
  end, function(kind)
    return {title = kind .. " score", xlabel = "False positives", ylabel = "True positive rate",
            xrange = {0, max_fp}, yrange = {0, 1}}
  end)
  return plot.draw({title = "FDDB: ROC", panels = panels}, path)
end

--- Cumulative error distribution of landmark runs, NME axis up to max_nme (default 0.2).
function plot.landmarks(runs, path, max_nme)
  max_nme = max_nme or 0.2
  local series = {}
  for _, run_ in ipairs(runs) do
    local c = run_.curves.ced or {}
    local x, y = {0}, {0}
    for i = 1, #(c.nme or {}) do
      x[#x + 1], y[#y + 1] = c.nme[i], c.fraction[i]
    end
    x[#x + 1], y[#y + 1] = max_nme, y[#y]
    series[#series + 1] = {label = ("%s (NME %s, failures %s)"):format(run_.label, fmt3(run_.summary.nme),
      fmt3(run_.summary.failure_rate)), x = x, y = y, steps = true}
  end
  return plot.draw({title = "Landmarks: cumulative error distribution", width = 720,
                    panels = {{title = "", xlabel = "NME (inter-ocular)", ylabel = "Fraction of faces",
                               xrange = {0, max_nme}, yrange = {0, 1}, series = series}}}, path)
end

return plot

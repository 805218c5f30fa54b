-- records.lua: look into record files.
--   mtcnn scripts/records.lua info FILE...      header and samples per label
--   mtcnn scripts/records.lua verify FILE...    every block's checksum, the label counts
--   mtcnn scripts/records.lua show FILE --out sheet.png [--count N] [--label L] [--seed S]
--                                               a contact sheet (boxes and landmarks drawn)
-- Exit status: 0 when every file is readable (and, for verify, intact), 1 otherwise.

local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local record = require "mtcnn.record"

local args, die = cli.script(arg, {
  name = "records.lua",
  usage = "mtcnn scripts/records.lua info|verify|show FILE... [options]",
  description = "Prints the header and the samples per label of record files (info), checks\n"
    .. "every block's checksum and the header's label counts (verify: every bad block is\n"
    .. "listed), or draws a grid of samples with their face boxes and landmarks (show).",
  positional = {{name = "command", choices = {"info", "verify", "show"}, help = "what to do"}},
  rest = {name = "FILE", help = "record files", required = true},
  options = {
    {name = "json", kind = "flag", help = "print one JSON object per file"},
    {name = "out", kind = "string", metavar = "PNG", help = "show: picture to write [default: FILE.png]"},
    {name = "count", kind = "int", default = 64, help = "show: samples in the sheet"},
    {name = "first", kind = "int", default = 1, help = "show: first sample (without --seed)"},
    {name = "label", kind = "string", choices = {"positive", "part", "negative", "landmark"},
     help = "show: only this class"},
    {name = "seed", kind = "int", help = "show: a random pick with this seed"},
    {name = "cols", kind = "int", help = "show: tiles per row [default: about square]"},
    {name = "scale", kind = "int", help = "show: tile enlargement [default: 96 / size]"},
    {name = "augment", kind = "flag",
     help = "show: a loader batch of the file (mirrored, --jitter), as the net sees it"},
    {name = "jitter", kind = "flag", help = "show --augment: with colour jitter"},
  },
})

local failed = false
local function fail(msg)
  io.stderr:write("records.lua: ", msg, "\n")
  failed = true
end

local function info(path)
  local f, err = record.open(path)
  if not f then return fail(err) end
  local h = f:info()
  f:close()
  if args.json then
    print(json.encode(json.ordered({
      file = path, version = h.version, size = h.size, count = h.count, counts = h.counts,
      block_samples = h.block_samples, blocks = h.blocks, record_bytes = h.record_bytes,
      bytes = h.bytes, sequence = h.sequence,
    }, {"file", "version", "size", "count", "counts", "block_samples", "blocks", "record_bytes",
        "bytes", "sequence"})))
    return
  end
  print(("%s: record file version %d, %dx%d samples, %d committed (commit %d)"):format(
    path, h.version, h.size, h.size, h.count, h.sequence))
  print(("  %d bytes per sample, %d samples per block, %d blocks, %.1f MB"):format(
    h.record_bytes, h.block_samples, h.blocks, h.bytes / 1e6))
  for _, cls in ipairs(record.CLASSES) do
    local n = h.counts[cls]
    print(("  %-9s %10d  (label %2d, %5.1f%%)"):format(cls, n, record.labels[cls],
      h.count > 0 and 100 * n / h.count or 0))
  end
end

local function verify(path)
  local f, err = record.open(path)
  if not f then return fail(err) end
  local h = f:info()
  local v = f:verify()
  f:close()
  -- the labels of the intact blocks against the header's counts (when every block is intact)
  local mismatch = false
  if v.nbad == 0 then
    for _, cls in ipairs(record.CLASSES) do
      if v.labels[cls] ~= h.counts[cls] then mismatch = true end
    end
    mismatch = mismatch or v.invalid_labels > 0
  end
  -- a damaged header copy: the file reads as its older commit, and what follows that commit
  -- may be samples the damaged copy had committed
  local problems = {}
  if v.nbad > 0 then problems[#problems + 1] = v.nbad .. " bad blocks" end
  if mismatch then problems[#problems + 1] = "label counts differ" end
  if v.damaged_header then
    problems[#problems + 1] = ("header copy %d is damaged"):format(v.damaged_header)
  end
  local ok = #problems == 0
  if args.json then
    print(json.encode(json.ordered({file = path, ok = ok, count = h.count, blocks = v.blocks,
      bad_blocks = v.bad, counts = v.nbad == 0 and v.labels or json.null,
      damaged_header = v.damaged_header or json.null, extra_bytes = v.extra_bytes},
      {"file", "ok", "count", "blocks", "bad_blocks", "counts", "damaged_header", "extra_bytes"})))
  else
    for _, b in ipairs(v.bad) do
      print(("%s: block %d (samples %d..%d) fails its checksum"):format(path, b.block, b.first, b.last))
    end
    if v.nbad > #v.bad then print(("%s: ... %d bad blocks in all"):format(path, v.nbad)) end
    if mismatch then
      print(("%s: the samples' labels do not match the header's counts"):format(path))
    end
    if v.damaged_header then
      print(("%s: header copy %d fails its checksum: the file reads as the other copy's commit " ..
        "(%d samples, sequence %d)%s"):format(path, v.damaged_header, h.count, h.sequence,
        v.extra_bytes > 0 and (", and %d bytes follow it that may hold committed samples; " ..
        "writers refuse to cut them"):format(v.extra_bytes) or ""))
    end
    print(("%s: %d samples in %d blocks: %s"):format(path, h.count, v.blocks,
      ok and "OK" or table.concat(problems, ", ")))
  end
  if not ok then failed = true end
end

local function show(path)
  local f, err = record.open(path)
  if not f then return fail(err) end
  local sheet_mod = require "mtcnn.record.sheet"
  local pic
  if args.augment then
    local size, count = f.size, f.count
    f:close()
    local loader = require "mtcnn.loader"
    local ld
    ld, err = loader.new{size = size, files = path, batch = math.min(args.count, count),
                         seed = args.seed or 1, workers = 0, jitter = args.jitter}
    if not ld then return fail(err) end
    local batch
    batch, err = ld:next()
    if not batch then return fail(err) end
    local mirrored = {}
    for r, p in ipairs(ld:provenance()) do mirrored[r] = p.mirrored end
    pic = sheet_mod.from_batch(batch, {cols = args.cols, scale = args.scale, mirrored = mirrored})
    ld:close()
  else
    pic, err = sheet_mod.make(f, {count = args.count, first = args.first, label = args.label,
                                  seed = args.seed, cols = args.cols, scale = args.scale})
    f:close()
    if not pic then return fail(err) end
  end
  local out = args.out or (path .. ".png")
  local ok, serr = pic:save(out)
  if not ok then return fail(serr) end
  if args.json then
    print(json.encode({file = path, sheet = out, width = pic.width, height = pic.height}))
  else
    print(("%s: wrote %s (%dx%d)"):format(path, out, pic.width, pic.height))
  end
end

local run = {info = info, verify = verify, show = show}
if args.command == "show" and #args.rest > 1 and args.out then
  die("show --out takes one FILE", 2)
end
for _, path in ipairs(args.rest) do run[args.command](path) end
os.exit(failed and 1 or 0)

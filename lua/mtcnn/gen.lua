-- mtcnn.gen: a whole sample-generation run, streaming, multi-threaded and resumable; the engine
-- of scripts/gen_pnet_data.lua (docs/design.md, 'Sample generation'), gen_landmark_data.lua
-- ('Landmark samples') and, with the chunks started by mtcnn.hard, gen_hard_examples.lua
-- ('Hard examples').
--
--   local gen = require "mtcnn.gen"
--   local entries = assert(data.read_wider(gt_file, {images = root}))   -- or read_landmarks
--   local summary = assert(gen.run{kind = "detection", entries = entries, out = "work/pnet/detection",
--                                  params = config.sample_params(cfg), val_fraction = 0.1, seed = 1})
--
-- The images are decoded and sampled in chunks on the C worker pool (core.gen.start, one
-- image per task, the next chunk while this one is written; the samples go from C straight
-- into the files); each image draws from its own generator, seeded by (seed, the image's index
-- in the annotation list), so the records are the same for a seed whatever the thread count,
-- the chunk size or the interruptions. An image is held out for validation when a hash of its
-- name and the seed falls below val_fraction: all its samples go to OUT/val.rec, the others'
-- to OUT/train.rec, so no image is on both sides.
--
-- After a chunk (at most every commit_seconds) both record files commit, then OUT/state.json
-- is replaced atomically: the annotation index reached and each file's committed count. A run
-- killed at any moment resumes (resume = true) at the image after the last saved state: a file
-- that committed beyond the state's count (a kill between the commits and the state) is rolled
-- back to it (record.writer{keep = n}), so no image's samples are lost or written twice, and
-- the finished files equal those of an uninterrupted run sample for sample. Missing images are
-- skipped with a count; an image that does not decode is skipped with its message; neither
-- stops the run. At the end OUT/summary.json holds the summary that run() returns.

local core = require "mtcnn.core"
local json = require "mtcnn.json"
local record = require "mtcnn.record"
local sys = require "mtcnn.sys"

local C = core.gen
local gen = {}

local STATE_VERSION = 1
local EXAMPLES = 5 -- skipped images named in the summary

--- gen.split_key(name, seed) -> a number in [0, 1): the image is held out below val_fraction.
gen.split_key = C.split_key

local write_atomic = sys.write_atomic

local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function empty_counts()
  return {positive = 0, negative = 0, part = 0, landmark = 0}
end

-- What must not change between a run and its resumption.
local function identity(opts)
  return {kind = opts.kind, seed = opts.seed, val_fraction = opts.val_fraction,
          params = opts.params, settings = opts.settings, listed = opts.listed or #opts.entries,
          source = opts.source}
end

-- The first differing setting of two identities, for the message.
local function difference(a, b)
  for _, k in ipairs({"kind", "seed", "val_fraction", "listed", "source"}) do
    if not same(a[k], b[k]) then
      return ("%s %s, now %s"):format(k, json.encode(a[k]), json.encode(b[k]))
    end
  end
  for _, group in ipairs({"params", "settings"}) do
    local ga, gb = a[group] or {}, b[group] or {}
    for k, v in pairs(gb) do
      if not same(ga[k], v) then
        return ("%s %s, now %s"):format(k, json.encode(ga[k]), json.encode(v))
      end
    end
    for k, v in pairs(ga) do
      if gb[k] == nil then return ("%s %s, now unset"):format(k, json.encode(v)) end
    end
  end
  return "settings"
end

local function fresh_state(opts)
  return {version = STATE_VERSION, identity = identity(opts), next_index = 0, complete = false,
          committed = {train = 0, val = 0},
          images = {done = 0, train = 0, val = 0, missing = 0, bad = 0}, faces = 0,
          tally = {}, missing_examples = {}, bad_examples = {}}
end

-- The state of a previous run in out, or a fresh one (nil, message when it cannot be used).
local function load_state(opts, paths)
  local exists = sys.stat(paths.state) ~= nil
  if not opts.resume then
    if not opts.force then
      for _, p in ipairs({paths.state, paths.train, paths.val}) do
        if sys.stat(p) then
          return nil, ("%s already holds a generation (%s): --resume continues it, --force starts "
                       .. "over"):format(opts.out, p:match("[^/]+$"))
        end
      end
    end
    for _, p in ipairs({paths.state, paths.train, paths.val, paths.summary}) do os.remove(p) end
    return fresh_state(opts)
  end
  if not exists then
    -- killed before its first state: whatever the files hold is rolled back to nothing
    return fresh_state(opts), "no state.json: starting from the first image"
  end
  local state, err = json.read_file(paths.state)
  if not state then return nil, err end
  if state.version ~= STATE_VERSION then
    return nil, ("%s: state version %s, this build writes %d"):format(paths.state,
      tostring(state.version), STATE_VERSION)
  end
  local want = json.decode(json.encode(identity(opts))) -- as it reads back from JSON
  if not same(state.identity, want) then
    return nil, ("%s was generated with other settings (%s): rerun them, or start over with "
                 .. "--force"):format(opts.out, difference(state.identity, want))
  end
  return state
end

local function add_examples(list, item)
  if #list < EXAMPLES then list[#list + 1] = item end
end

local function class_counts(w)
  local c = w:counts()
  return {positive = c.positive, negative = c.negative, part = c.part, landmark = c.landmark,
          total = w:count()}
end

-- The items core.gen.start takes for a chunk of entries.
local function chunk_items(kind, entries, first, last)
  local items = {}
  for i = first, last do
    local e = entries[i]
    if kind == "landmarks" or kind == "landmark_windows" then
      items[#items + 1] = {path = e.path, name = e.name, index = e.index, box = e.box, points = e.points}
    else
      items[#items + 1] = {path = e.path, name = e.name, index = e.index, faces = e.faces}
    end
  end
  return items
end

--- gen.run(opts) -> summary | nil, message [, "output": an output could not be written]. opts:
---   kind "detection" | "landmarks" | "hard" | "landmark_windows"; entries: the list of a data
---   reader (read with or without check; an entry's `index`, when absent, is its position in
---   the list, 1-based; indices must increase along the list);
---   out: the output folder (created); params: mtcnn.sample options (size, thresholds...);
---   val_fraction; seed; resume; force (start over in a folder that holds a generation);
---   threads (default: the pool's); chunk (images per call, default 32 per thread);
---   commit_seconds (least time between commits, default 1; 0: after every chunk); limit (only
---   the first n present images); source (a description of the input, checked on resume);
---   stage (a name for the summary); settings (more that must not change on resume);
---   start_chunk(items, {kind, seed, params}) -> a chunk with :wait(train, val, val_fraction)
---   (default core.gen.start; kinds "hard" and "landmark_windows" need one: mtcnn.hard runs the
---   detector there), whose
---   results may carry tally = {name = number}, summed over the images into summary.tally;
---   listed, missing, missing_examples: what the reader saw and left out (entries read with
---   the existence check), for the summary;
---   progress(p) called before the first chunk and after each with p = {done, total, faces,
---   samples, missing, bad, elapsed}; note(message) for remarks (default: ignored).
--- summary = {kind, stage, out, size, seed, val_fraction, images = {listed, present, done, train,
--- val, missing, bad}, faces, samples = {train = {positive, negative, part, landmark, total},
--- val = {...}}, tally, missing_examples, bad_examples = {{name, message}}, run = {images, faces,
--- seconds, images_per_s, faces_per_s, peak_rss_mb}, resumed, outputs = {train, val}}.
function gen.run(opts)
  assert(opts.kind == "detection" or opts.kind == "landmarks" or
         (opts.kind == "hard" or opts.kind == "landmark_windows") and opts.start_chunk,
         "gen.run: kind must be detection, landmarks, hard or landmark_windows (with start_chunk)")
  assert(type(opts.entries) == "table", "gen.run: entries expected")
  assert(type(opts.out) == "string", "gen.run: out expected")
  local params = opts.params or {}
  local size = params.size or 12
  local note = opts.note or function() end
  opts.seed = math.tointeger(opts.seed or 1)
  opts.val_fraction = opts.val_fraction or 0
  opts.params = params
  if opts.threads then sys.set_threads(opts.threads) end
  local chunk = opts.chunk or 32 * sys.threads()
  local commit_seconds = opts.commit_seconds or 1
  local entries = opts.entries
  for i, e in ipairs(entries) do
    if e.index == nil then e.index = i end
    -- the saved position is an index: entries must come in increasing index order
    assert(i == 1 or e.index > entries[i - 1].index, "gen.run: entry indices must increase")
  end

  local ok, err = sys.mkdir(opts.out)
  if not ok then return nil, err, "output" end
  local out = opts.out:gsub("/$", "")
  local paths = {train = out .. "/train.rec", val = out .. "/val.rec",
                 state = out .. "/state.json", summary = out .. "/summary.json"}
  local state, remark = load_state(opts, paths)
  if not state then return nil, remark end
  if remark then note(remark) end
  local resumed = opts.resume and state.next_index > 0

  -- the images of this run: present, after the saved position, up to the limit
  -- (missing images are counted over the whole list at every start; the driver reports those
  -- that vanish later, counted in the state)
  local todo, present, missing_now, missing_examples = {}, 0, 0, {}
  for _, name in ipairs(opts.missing_examples or {}) do add_examples(missing_examples, name) end
  for _, e in ipairs(entries) do
    if sys.stat(e.path) then
      present = present + 1
      if (not opts.limit or present <= opts.limit) and e.index >= state.next_index then
        todo[#todo + 1] = e
      end
    else
      missing_now = missing_now + 1
      add_examples(missing_examples, e.name or e.path)
    end
  end
  for _, name in ipairs(state.missing_examples) do add_examples(missing_examples, name) end

  -- state first, then the files: a kill in between leaves a state that rolls them back to it
  ok, err = write_atomic(paths.state, json.encode(state))
  if not ok then return nil, err, "output" end
  local writers = {}
  for _, side in ipairs({"train", "val"}) do
    local w, werr = record.writer(paths[side], {size = size, keep = state.committed[side]})
    if not w then
      for _, o in pairs(writers) do o:abort() end
      return nil, werr
    end
    writers[side] = w
  end

  local faces_before = state.faces
  local t0, last_commit = sys.clock(), sys.clock()
  local done, faces = 0, 0
  local function save()
    for _, side in ipairs({"train", "val"}) do
      local okc, cerr = writers[side]:commit()
      if not okc then return nil, cerr end
      state.committed[side] = writers[side]:committed()
    end
    last_commit = sys.clock()
    return write_atomic(paths.state, json.encode(state))
  end
  local pending
  local function fail(msg, kind)
    if pending then pcall(pending.wait, pending) end
    pending = nil
    for _, w in pairs(writers) do w:abort() end
    return nil, msg, kind
  end

  local function report()
    if opts.progress then
      opts.progress{done = done, total = #todo, faces = faces,
                    samples = writers.train:count() + writers.val:count(),
                    missing = state.images.missing, bad = state.images.bad,
                    elapsed = sys.clock() - t0}
    end
  end
  report()
  -- chunk k + 1 is decoded and sampled (C threads) while chunk k is written here
  local copts = {kind = opts.kind, seed = opts.seed, params = params}
  local start_chunk = opts.start_chunk or C.start
  local function start(first)
    if first > #todo then return true, nil end
    return pcall(start_chunk, chunk_items(opts.kind, todo, first, math.min(#todo, first + chunk - 1)), copts)
  end
  local started, first_chunk = start(1)
  if not started then return fail(first_chunk) end
  pending = first_chunk
  for first = 1, #todo, chunk do
    local last = math.min(#todo, first + chunk - 1)
    -- the samples go from C to the files (by the split key of each image's name)
    local ok_wait, results, werr = pcall(pending.wait, pending, writers.train, writers.val,
                                         opts.val_fraction)
    pending = nil
    if not ok_wait or not results then
      -- a sample that could not be written (a full disk) is an output failure
      local broken = writers.train:broken() or writers.val:broken()
      return fail(ok_wait and werr or results, broken and "output" or nil)
    end
    local next_chunk
    started, next_chunk = start(last + 1)
    if not started then return fail(next_chunk) end
    pending = next_chunk
    for k, r in ipairs(results) do
      local e = todo[first + k - 1]
      local name = e.name or e.path
      local im = state.images
      if r.status == "ok" then
        local side = r.side
        im.done, im[side] = im.done + 1, im[side] + 1
        local nf = e.faces and #e.faces or 1
        faces, state.faces = faces + nf, state.faces + nf
        for key, v in pairs(r.tally or {}) do state.tally[key] = (state.tally[key] or 0) + v end
      elseif r.status == "missing" then
        im.missing = im.missing + 1
        add_examples(state.missing_examples, name)
      else
        im.bad = im.bad + 1
        add_examples(state.bad_examples, {name = name, message = r.message})
        note(("skipped %s: %s"):format(name, r.message))
      end
      done = done + 1
    end
    results = nil
    state.next_index = todo[last].index + 1
    if last == #todo or sys.clock() - last_commit >= commit_seconds then
      local saved, serr = save()
      if not saved then return fail(serr, "output") end
    end
    report()
  end
  if #todo == 0 then
    local saved, serr = save()
    if not saved then return fail(serr, "output") end
  end
  local seconds = sys.clock() - t0

  local summary = {
    kind = opts.kind, stage = opts.stage, out = out, size = size, seed = opts.seed,
    val_fraction = opts.val_fraction,
    images = {listed = opts.listed or #entries, present = present, done = state.images.done,
              train = state.images.train, val = state.images.val,
              missing = (opts.missing or 0) + missing_now + state.images.missing,
              bad = state.images.bad},
    faces = state.faces,
    samples = {train = class_counts(writers.train), val = class_counts(writers.val)},
    tally = state.tally, missing_examples = missing_examples, bad_examples = state.bad_examples,
    run = {images = done, faces = state.faces - faces_before, seconds = seconds,
           images_per_s = seconds > 0 and done / seconds or 0,
           faces_per_s = seconds > 0 and (state.faces - faces_before) / seconds or 0,
           peak_rss_mb = sys.peak_rss_mb()},
    resumed = resumed or false,
    outputs = {train = paths.train, val = paths.val},
  }
  for _, side in ipairs({"train", "val"}) do
    local closed, cerr = writers[side]:close()
    if not closed then return nil, cerr, "output" end
  end
  state.complete = not opts.limit or present <= opts.limit
  ok, err = write_atomic(paths.state, json.encode(state))
  if ok then ok, err = write_atomic(paths.summary, json.encode(summary, {indent = "  "}) .. "\n") end
  if not ok then return nil, err, "output" end
  return summary
end

--- gen.summary_lines(summary) -> the summary as text lines: images, then samples per class
--- on each side.
function gen.summary_lines(s)
  local im = s.images
  local lines = {
    ("images: %d listed, %d present, %d sampled (%d train, %d validation), %d missing, %d bad")
      :format(im.listed, im.present, im.done, im.train, im.val, im.missing, im.bad),
    ("this run: %d images, %d faces in %.1f s: %.1f images/s, %.1f faces/s%s"):format(
      s.run.images, s.run.faces, s.run.seconds, s.run.images_per_s, s.run.faces_per_s,
      s.resumed and " (resumed)" or ""),
    ("%-10s %10s %10s %10s %10s %10s"):format("samples", "positive", "part", "negative",
                                               "landmark", "total"),
  }
  for _, side in ipairs({"train", "val"}) do
    local c = s.samples[side]
    lines[#lines + 1] = ("%-10s %10d %10d %10d %10d %10d"):format(side, c.positive, c.part,
                                                                 c.negative, c.landmark, c.total)
  end
  if #s.missing_examples > 0 then
    lines[#lines + 1] = "missing, e.g.: " .. table.concat(s.missing_examples, ", ")
  end
  for _, b in ipairs(s.bad_examples) do
    lines[#lines + 1] = ("bad image %s: %s"):format(b.name, b.message)
  end
  lines[#lines + 1] = ("wrote %s, %s"):format(s.outputs.train, s.outputs.val)
  return lines
end

-- ---- the scripts ------------------------------------------------------------------------------

--- gen.detect_format(path) -> "official" | "list" | nil, message: the WIDER FACE *_bbx_gt.txt
--- format (a path line, then a face count line) or the seed's one-line list (a path and boxes).
function gen.detect_format(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, ("%s: cannot read: %s"):format(path, tostring(err)) end
  local lines = {}
  for line in f:lines() do
    line = line:gsub("\r$", "")
    if line:find("%S") then lines[#lines + 1] = line end
    if #lines == 2 then break end
  end
  f:close()
  local first = {}
  for w in (lines[1] or ""):gmatch("%S+") do first[#first + 1] = w end
  local numeric = #first > 1
  for k = 2, #first do numeric = numeric and tonumber(first[k]) ~= nil end
  if numeric and (#first - 1) % 4 == 0 then return "list" end
  if #first == 1 and lines[2] and math.tointeger(tonumber(lines[2]:match("^%s*(.-)%s*$"))) then
    return "official"
  end
  return nil, ("%s: cannot tell its format (neither a WIDER *_bbx_gt.txt file nor a one-line "
               .. "list): give --format official|list"):format(path)
end

local STAGE_OF_SIZE = {[12] = "pnet", [24] = "rnet", [48] = "onet"}
local SHARED_KEYS = {side_lo = true, side_hi = true, jitter = true, method = true, val_fraction = true}

local SCRIPTS = {
  detection = {kind = "detection", name = "gen_pnet_data.lua",
    description = "PNet's detection samples (negatives, positives, part faces) from WIDER FACE\n"
      .. "annotations, on all cores; reproducible for a seed whatever the thread count, resumable\n"
      .. "after a kill (--resume), missing and unreadable images skipped with a count."},
  landmarks = {kind = "landmarks", name = "gen_landmark_data.lua",
    description = "Landmark samples of the 5-point face list (trainImageList.txt format) for one\n"
      .. "stage, on all cores; reproducible for a seed whatever the thread count, resumable after\n"
      .. "a kill (--resume), missing and unreadable images skipped with a count."},
}

--- gen.input_options(kind) -> --annotations, --images, --out (and --format but for kind
--- "landmarks"): what a generation script reads and writes.
function gen.input_options(kind)
  local landmarks = kind == "landmarks"
  local options = {
    {name = "annotations", kind = "string", metavar = "FILE",
     help = landmarks and "the landmark list (trainImageList.txt format: path left right top bottom x1 y1 ... x5 y5)"
                      or "WIDER FACE annotations: an official *_bbx_gt.txt file or the seed's one-line list"},
    {name = "images", kind = "string", metavar = "DIR", help = "the folder the annotated paths are relative to"},
    {name = "out", kind = "string", metavar = "DIR", help = "output folder: train.rec, val.rec, config.lua, state.json, summary.json"},
  }
  if not landmarks then
    options[#options + 1] = {name = "format", kind = "string", choices = {"auto", "official", "list"},
                             default = "auto", help = "annotation format"}
  end
  return options
end

--- gen.script_options(chunk_help) -> the options every generation script takes after its
--- own (--resume, --force, --threads, --seed, --limit, --chunk, --commit-every, --json, --quiet).
function gen.script_options(chunk_help)
  return {
    {name = "resume", kind = "flag", help = "continue an interrupted run in --out (same settings)"},
    {name = "force", kind = "flag", help = "start over in an --out that holds a generation"},
    {name = "threads", kind = "int", help = "decoding and sampling threads [default: all cores]"},
    {name = "seed", kind = "int", default = 1, help = "sampling and validation-split seed"},
    {name = "limit", kind = "int", metavar = "N", help = "only the first N present images (quick runs)"},
    {name = "chunk", kind = "int", metavar = "N", help = chunk_help or "images decoded per batch [default: 32 per thread]"},
    {name = "commit-every", kind = "number", metavar = "SECONDS", default = 1,
     help = "least time between commits (a kill loses at most this much work)"},
    {name = "json", kind = "flag", help = "print the summary as JSON on stdout"},
    {name = "quiet", kind = "flag", help = "no progress bar"},
  }
end

--- gen.check_args(args, usage_error): the checks of the shared options and of the required
--- --annotations, --images and --out.
function gen.check_args(args, usage_error)
  for _, k in ipairs({"annotations", "images", "out"}) do
    if not args[k] then usage_error("--" .. k .. " is required") end
  end
  if args.threads and (args.threads < 1 or args.threads > 64) then usage_error("--threads must be in 1..64") end
  if args.limit and args.limit < 0 then usage_error("--limit must be >= 0") end
  if args.chunk and args.chunk < 1 then usage_error("--chunk must be >= 1") end
end

--- gen.read_entries(kind, args) -> entries, stats, missing_names | nil, message: the present
--- images of args.annotations under args.images (kind "landmarks": the landmark list; any
--- other: WIDER FACE annotations in args.format, "auto" by default).
function gen.read_entries(kind, args)
  local data = require "mtcnn.data"
  local missing_names = {}
  local function on_missing(name)
    if #missing_names < EXAMPLES then missing_names[#missing_names + 1] = name end
  end
  local entries, stats
  if kind == "landmarks" then
    entries, stats = data.read_landmarks(args.annotations, {images = args.images, on_missing = on_missing})
  else
    local format, err = args.format or "auto", nil
    if format == "auto" then
      format, err = gen.detect_format(args.annotations)
      if not format then return nil, err end
    end
    local read = format == "official" and data.read_wider or data.read_list
    entries, stats = read(args.annotations, {images = args.images, on_missing = on_missing})
  end
  if not entries then return nil, stats end
  return entries, stats, missing_names
end

--- gen.reporter(script, label, unit, show) -> progress, note, finish: the hooks of gen.run
--- for a script (a bar labelled label on stderr when show; notes above it) and the call that
--- ends the bar.
function gen.reporter(script, label, unit, show)
  local bar
  local function progress(p)
    if not bar then bar = require("mtcnn.progress").new{total = p.total, label = label, unit = unit} end
    bar:update(p.done, ("%d samples"):format(p.samples))
  end
  local function note(msg)
    if bar then bar:print(script .. ": " .. msg) else io.stderr:write(script, ": ", msg, "\n") end
  end
  return show and progress or nil, note, function() if bar then bar:finish() end end
end

--- gen.finish(summary, used, stage, script, args, lines, fail): writes the settings used
--- (OUT/config.lua) and prints the summary (as JSON with --json, else lines).
function gen.finish(summary, used, stage, script, args, lines, fail)
  local config = require "mtcnn.config"
  local ok, werr = config.write(used, summary.out .. "/config.lua", stage,
    ("the settings of %s --out %s (seed %d)"):format(script, args.out, args.seed))
  if not ok then fail(werr, require("mtcnn.cli").EXIT.output) end
  if args.json then
    io.stdout:write(json.encode(summary, {indent = "  "}), "\n")
  else
    for _, line in ipairs(lines) do print(line) end
  end
end

--- gen.main(argv, kind): the command line of scripts/gen_pnet_data.lua (kind "detection") and
--- gen_landmark_data.lua ("landmarks"). Exits 2 on a bad command line, 1 when the run fails,
--- 3 when an output could not be written (--resume continues from the last commit).
function gen.main(argv, kind)
  local spec = assert(SCRIPTS[kind], "gen.main: kind must be detection or landmarks")
  local cli = require "mtcnn.cli"
  local config = require "mtcnn.config"
  local detection = spec.kind == "detection"
  local section = detection and "detection" or "landmark"
  local options = gen.input_options(spec.kind)
  if not detection then
    options[#options + 1] = {name = "size", kind = "int", default = 12,
                             help = "sample side: 12 (PNet), 24 (RNet) or 48 (ONet); the stage's config is used"}
  end
  for _, o in ipairs(gen.script_options()) do options[#options + 1] = o end
  for _, o in ipairs(config.options("pnet", {section})) do
    if o.name ~= "config" and o.name ~= "set" then options[#options + 1] = o end
  end
  -- the detection keys that landmark sampling uses too
  for _, o in ipairs(config.options("pnet", {"detection"})) do
    if not detection and SHARED_KEYS[o.config_key] or o.name == "config" or o.name == "set" then
      options[#options + 1] = o
    end
  end
  local cspec = {
    name = spec.name,
    usage = ("mtcnn scripts/%s --annotations FILE --images DIR --out DIR [options]"):format(spec.name),
    description = spec.description,
    options = options,
  }
  local args, fail = cli.script(argv, cspec)
  local function usage_error(msg) fail(msg, 2) end
  gen.check_args(args, usage_error)
  local stage = detection and "pnet" or STAGE_OF_SIZE[args.size]
  if not stage then usage_error("--size must be 12, 24 or 48") end
  local cfg, cerr = config.resolve(stage, args, {section, "detection"})
  if not cfg then usage_error(cerr) end
  if not detection and cfg.detection.size ~= args.size then
    usage_error(("the %s config's size is %s, not --size %d"):format(stage, tostring(cfg.detection.size), args.size))
  end

  local entries, stats, missing_names = gen.read_entries(spec.kind, args)
  if not entries then fail(stats) end
  local size = cfg.detection.size
  local progress, note, finish = gen.reporter(spec.name, ("%s %dx%d"):format(stage, size, size),
                                              detection and "img" or "face", not args.quiet and not args.json)
  local summary, err, kind = gen.run{
    kind = spec.kind, stage = stage, entries = entries, out = args.out,
    params = config.sample_params(cfg),
    val_fraction = cfg.detection.val_fraction, seed = args.seed, resume = args.resume,
    force = args.force, threads = args.threads or sys.cpu_count(), chunk = args.chunk,
    commit_seconds = args.commit_every, limit = args.limit,
    source = args.annotations:match("[^/]+$"), listed = stats.listed, missing = stats.missing,
    missing_examples = missing_names, progress = progress, note = note,
  }
  finish()
  if not summary then fail(err, kind == "output" and cli.EXIT.output or cli.EXIT.failed) end
  local used = detection and {detection = cfg.detection} or {detection = cfg.detection, landmark = cfg.landmark}
  gen.finish(summary, used, stage, spec.name, args, gen.summary_lines(summary), fail)
end

return gen

-- mix_model.lua: a model folder whose nets come from different models, to judge one stage at a
-- time (swap a trained ONet into the original cascade, say) with detect.lua or compare_models.lua.
--   mtcnn scripts/mix_model.lua --pnet original --rnet original --onet work/onet/model --out mixed

local cli = require "mtcnn.cli"
local json = require "mtcnn.json"
local sys = require "mtcnn.sys"
local detector = require "mtcnn.detector"

local ARCHS = {"pnet", "rnet", "onet"}

local args, fail = cli.script(arg, {
  name = "mix_model.lua",
  usage = "mtcnn scripts/mix_model.lua --pnet A --rnet B --onet C --out DIR [--overwrite]",
  description = "Writes a model folder whose PNet, RNet and ONet are copied from the models named\n"
    .. "(folders, or names of folders of models/ such as original). Each net keeps the output\n"
    .. "convention of the model it comes from (conventions.pnet_width_plus_one follows the PNet,\n"
    .. "conventions.landmark_offset the ONet); the models must share their input preprocessing.\n"
    .. "The manifest says where each net came from; the detection defaults are the ONet model's.",
  options = {
    {name = "pnet", kind = "string", metavar = "MODEL", required = "the model to take PNet from",
     help = "model folder or bundled name the PNet comes from"},
    {name = "rnet", kind = "string", metavar = "MODEL", required = "the model to take RNet from",
     help = "model folder or bundled name the RNet comes from"},
    {name = "onet", kind = "string", metavar = "MODEL", required = "the model to take ONet from",
     help = "model folder or bundled name the ONet comes from"},
    {name = "out", kind = "string", metavar = "DIR", required = "the output folder",
     help = "the new model folder"},
    {name = "name", kind = "string", help = "the manifest's name [default: mixed-P-R-O from the sources' names]"},
    {name = "overwrite", kind = "flag", help = "replace a model folder already at --out"},
  },
})

-- The conventions of a model whose manifest says none: the imported original's.
local DEFAULT_CONVENTIONS = {landmark_offset = 1, pnet_width_plus_one = false}

local function read_file(path)
  local f, err = sys.open(path, "rb")
  if not f then return nil, err end
  local data = f:read("a")
  f:close()
  if not data then return nil, ("%s: unreadable"):format(path) end
  return data
end

-- every source and the output folder, checked before anything is written: first the command
-- line (status 2), then the models themselves (status 1)
local dirs = {}
for _, arch in ipairs(ARCHS) do
  local dir, err = detector.resolve_model(args[arch])
  if not dir then fail(("--%s: %s"):format(arch, err), cli.EXIT.usage) end
  dirs[arch] = dir
end
local out = args.out:gsub("/+$", "")
if out == "" then out = "/" end
local st = sys.stat(out)
if st and st.type ~= "directory" then fail(("--out %s: not a folder"):format(out), cli.EXIT.usage) end
if st and sys.stat(out .. "/manifest.json") and not args.overwrite then
  fail(("--out %s holds a model already: give --overwrite to replace it"):format(out), cli.EXIT.usage)
end
for _, arch in ipairs(ARCHS) do
  if st and sys.realpath(dirs[arch]) == sys.realpath(out) then
    fail(("--out %s is the model the %s comes from"):format(out, arch), cli.EXIT.usage)
  end
end

local sources, by_dir = {}, {}
for _, arch in ipairs(ARCHS) do
  local dir, err = dirs[arch], nil
  local nets = by_dir[dir]
  if not nets then
    nets, err = detector.load_model(dir)
    if not nets then fail(err) end
    by_dir[dir] = nets
  end
  if not nets[arch] then fail(("--%s: model %s has no %s"):format(arch, dir, arch)) end
  local m = nets.manifest
  sources[arch] = {dir = dir, manifest = m, file = dir .. "/" .. m.nets[arch],
                   name = type(m.name) == "string" and m.name or dir:match("([^/]+)/*$")}
end

-- the inputs must be prepared alike: one preprocessing for the whole cascade
local pre = json.encode(sources.pnet.manifest.preprocessing or json.null)
for _, arch in ipairs({"rnet", "onet"}) do
  if json.encode(sources[arch].manifest.preprocessing or json.null) ~= pre then
    fail(("the %s of %s and the pnet of %s prepare their inputs differently (manifest.json "
      .. "\"preprocessing\"): one cascade needs one"):format(arch, sources[arch].dir, sources.pnet.dir))
  end
end

local function convention(arch, key)
  local c = sources[arch].manifest.conventions
  local v = type(c) == "table" and c[key]
  if v == nil then v = DEFAULT_CONVENTIONS[key] end
  return v
end

-- ---- the folder --------------------------------------------------------------------------------

local ok, err = sys.mkdir(out)
if not ok then fail(("cannot create %s: %s"):format(out, tostring(err)), cli.EXIT.output) end

local provenance = {}
for _, arch in ipairs(ARCHS) do
  local s = sources[arch]
  local data, rerr = read_file(s.file)
  if not data then fail(rerr) end
  ok, err = sys.write_atomic(out .. "/" .. arch .. ".mtn", data)
  if not ok then fail(err, cli.EXIT.output) end
  local p = s.manifest.provenance
  if type(p) == "table" and p[arch] ~= nil then p = p[arch] end
  provenance[arch] = json.ordered({model = s.dir, name = s.name, provenance = p},
    {"model", "name", "provenance"})
end

-- the sources' LICENSE files come along: one LICENSE when they agree, else LICENSE-NAME each
local licence_files, texts = {}, {}
for _, arch in ipairs(ARCHS) do
  local s = sources[arch]
  local path = s.dir .. "/LICENSE"
  if sys.stat(path) then
    local data, rerr = read_file(path)
    if not data then fail(rerr) end
    if not texts[data] then
      texts[data] = true
      licence_files[#licence_files + 1] = {data = data, name = s.name}
    end
  end
end
for _, l in ipairs(licence_files) do
  local name = #licence_files == 1 and "LICENSE" or ("LICENSE-" .. l.name:gsub("[^%w_.-]", "_"))
  ok, err = sys.write_atomic(out .. "/" .. name, l.data)
  if not ok then fail(err, cli.EXIT.output) end
end

local licences, seen = {}, {}
for _, arch in ipairs(ARCHS) do
  local l = sources[arch].manifest.licence
  if type(l) == "string" and not seen[l] then
    seen[l] = true
    licences[#licences + 1] = ("%s (%s)"):format(l, sources[arch].name)
  end
end

local manifest = json.ordered({
  name = args.name or ("mixed-%s-%s-%s"):format(sources.pnet.name, sources.rnet.name, sources.onet.name),
  format = sources.onet.manifest.format or 1,
  nets = json.ordered({pnet = "pnet.mtn", rnet = "rnet.mtn", onet = "onet.mtn"}, ARCHS),
  provenance = json.ordered(provenance, ARCHS),
  licence = #licences > 0 and table.concat(licences, "; ") or nil,
  preprocessing = sources.pnet.manifest.preprocessing,
  conventions = json.ordered({landmark_offset = convention("onet", "landmark_offset"),
    pnet_width_plus_one = convention("pnet", "pnet_width_plus_one")},
    {"landmark_offset", "pnet_width_plus_one"}),
  detection = sources.onet.manifest.detection,
}, {"name", "format", "nets", "provenance", "licence", "preprocessing", "conventions", "detection"})
ok, err = sys.write_atomic(out .. "/manifest.json", json.encode(manifest, {indent = "  "}) .. "\n")
if not ok then fail(err, cli.EXIT.output) end

-- the folder must load as a model
local loaded
loaded, err = detector.load_model(out)
if not loaded then fail(err) end
print(("%s: pnet from %s, rnet from %s, onet from %s"):format(out, sources.pnet.dir,
  sources.rnet.dir, sources.onet.dir))

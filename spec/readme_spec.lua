-- README.md checked against the code:
--   * every ```sh block runs, command by command, from a scratch folder that sees the project's
--     examples/, scripts/ and models/, with `mtcnn` on PATH; a block the CI cannot run (GPU,
--     long runs, installing packages) is marked in the README's source by a comment right
--     above it:  <!-- readme-spec: skip (why) -->  or, for some of its commands,
--     <!-- readme-spec: skip-commands NAME... (why) -->  (commands whose first word ends in NAME);
--   * the REPL transcript (the block starting "$ mtcnn") is replayed and its outputs compared;
--   * every function and method the Lua API section names exists;
--   * every option the command-line section shows for a script is in the script's --help.
local helper = require "helper"
local q = helper.q

local README = helper.read_file(helper.home .. "/README.md")
local HOME = helper.run("readlink -f " .. q(helper.home)):gsub("%s+$", "")
local BIN = helper.run("readlink -f " .. q(helper.bin)):gsub("%s+$", "")

-- The fenced blocks: {info, lines, marker} in order (marker: the comment line above, if any).
local function blocks(text)
  local out, lines = {}, {}
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  local i = 1
  while i <= #lines do
    local info = lines[i]:match("^```(%S*)%s*$")
    if info then
      local body, j = {}, i + 1
      while j <= #lines and not lines[j]:match("^```%s*$") do
        body[#body + 1] = lines[j]
        j = j + 1
      end
      local marker = i > 1 and lines[i - 1]:match("^<!%-%- readme%-spec: (.-) %-%->$") or nil
      out[#out + 1] = {info = info, lines = body, marker = marker, line = i}
      i = j + 1
    else
      i = i + 1
    end
  end
  return out
end

-- The text of a section: from "## title" to the next "## ".
local function section(title)
  local start = README:find("\n## " .. title .. "\n", 1, true)
  assert(start, "README has no section " .. title)
  local stop = README:find("\n## ", start + 4, true) or #README
  return README:sub(start, stop)
end

-- Text without its fenced blocks, so that inline `code` pairs up.
local function prose(text)
  return (text:gsub("\n```[^\n]*\n.-\n```[^\n]*", "\n"))
end

-- detector.new with one option set to a value of the right kind (raises on an unknown option).
local function mtcnn_detector_new_with(name)
  local detector = require "mtcnn.detector"
  local values = {device = "cpu", min_face = 20, factor = 0.709, thresholds = {0.6, 0.7, 0.7}, nms = {0.5, 0.7, 0.7, 0.7},
    nms_onet = "min", preset = "original", resize = "area", stages = 3, clip = true, select = "largest",
    max_faces = 2, min_score = 0.9}
  assert(values[name] ~= nil, "no sample value for " .. name)
  return detector.new{[name] = values[name]}
end

-- A scratch folder seeing the project, and a bin folder with mtcnn (the host under test).
local function scratch()
  local dir = helper.tmpdir()
  for _, name in ipairs({"examples", "scripts", "models", "lua", "docs"}) do
    os.execute(("ln -s %s %s"):format(q(HOME .. "/" .. name), q(dir .. "/" .. name)))
  end
  local bin = BIN
  os.execute(("mkdir -p %s %s && ln -s %s %s && ln -s %s %s"):format(q(dir .. "/bin"), q(dir .. "/build"),
    q(bin), q(dir .. "/bin/mtcnn"), q(bin), q(dir .. "/build/mtcnn")))
  return dir
end

describe("README.md", function()
  it("marks every block it does not run, and says why", function()
    for _, b in ipairs(blocks(README)) do
      if b.marker then
        assert.matches("^skip[%w-]* .*%(.+%)$", b.marker, nil, false,
          ("line %d: a marker gives its reason in parentheses: %s"):format(b.line, b.marker))
      end
    end
  end)

  it("runs every sh command block as written", function()
    local dir = scratch()
    local ran = 0
    for _, b in ipairs(blocks(README)) do
      local skip_all = b.marker and b.marker:match("^skip ")
      local skip_words = {}
      if b.marker and b.marker:match("^skip%-commands ") then
        for w in b.marker:match("^skip%-commands ([^(]*)"):gmatch("%S+") do skip_words[#skip_words + 1] = w end
      end
      if b.info == "sh" and not skip_all then
        for _, line in ipairs(b.lines) do
          local cmd = line:gsub("%s+#.*$", "")
          local first = cmd:match("^%s*(%S+)")
          local skipped = false
          for _, w in ipairs(skip_words) do
            if first and first:sub(-#w) == w then skipped = true end
          end
          if first and not skipped then
            local out, code, err = helper.run("cd " .. q(dir) .. " && PATH=" .. q(dir .. "/bin") ..
              ":$PATH MTCNN_NO_PROGRESS=1 sh -c " .. q(cmd))
            assert(code == 0, ("README line %d: `%s` exited %s:\n%s%s"):format(b.line, cmd, tostring(code), out, err))
            ran = ran + 1
          end
        end
      end
    end
    assert.is_true(ran >= 5, "the README's commands ran")
    -- the first command block's promise: the picture with the faces drawn
    assert.is_true(helper.exists(dir .. "/out/astronaut_det.png"))
    assert.is_true(helper.exists(dir .. "/crops/astronaut_face1.png"))
    helper.rmdir(dir)
  end)

  it("shows REPL sessions that replay as written", function()
    local n = 0
    for _, b in ipairs(blocks(README)) do
      if b.lines[1] and b.lines[1]:match("^%$ mtcnn$") and not b.marker then
        n = n + 1
        local inputs, expected = {}, {}
        for i = 2, #b.lines do
          local l = b.lines[i]
          local input = l:match("^> (.*)$")
          if input then inputs[#inputs + 1] = input else expected[#expected + 1] = l end
        end
        local dir = scratch()
        local out, code, err = helper.run("cd " .. q(dir) .. " && printf '%s\\n' " ..
          table.concat((function()
            local t = {}
            for i, s in ipairs(inputs) do t[i] = q(s) end
            return t
          end)(), " ") .. " | " .. q(BIN) .. " -i")
        helper.rmdir(dir)
        assert.are.equal(0, code, err)
        assert.are.equal("", err)
        -- the output lines without the prompts, compared in order; numbers within 1e-4
        local got = {}
        for l in out:gmatch("[^\n]+") do
          l = l:gsub("^>+ ", ""):gsub("^> ", ""):gsub("^>+ ", "")
          if l:match("%S") then got[#got + 1] = l end
        end
        local function same(a, b)
          local ta, tb = {}, {}
          for t in a:gmatch("%S+") do ta[#ta + 1] = t end
          for t in b:gmatch("%S+") do tb[#tb + 1] = t end
          if #ta ~= #tb then return false end
          for i = 1, #ta do
            local x, y = tonumber((ta[i]:gsub("[,{}]", ""))), tonumber((tb[i]:gsub("[,{}]", "")))
            if x and y then
              if math.abs(x - y) > 1e-4 * math.max(1, math.abs(x)) then return false end
            elseif ta[i] ~= tb[i] then
              return false
            end
          end
          return true
        end
        local k = 1
        for _, want in ipairs(expected) do
          while k <= #got and not same(want, got[k]) do k = k + 1 end
          assert(k <= #got, ("README line %d: the session never printed\n  %s\nit printed:\n%s")
            :format(b.line, want, table.concat(got, "\n")))
          k = k + 1
        end
      end
    end
    assert.is_true(n >= 1, "the README shows a REPL session")
  end)

  it("links docs/coming_from.md, whose Lua examples run as written", function()
    assert.matches("(docs/coming_from.md)", README, 1, true)
    local doc = helper.read_file(helper.home .. "/docs/coming_from.md")
    local n = 0
    for _, b in ipairs(blocks(doc)) do
      if b.info == "lua" then
        n = n + 1
        local dir = helper.tmpdir()
        helper.write_file(dir .. "/example.lua", table.concat(b.lines, "\n") .. "\n")
        local out, code, err = helper.run("cd " .. q(dir) .. " && " .. q(BIN) .. " example.lua")
        helper.rmdir(dir)
        assert(code == 0, ("docs/coming_from.md line %d: exited %s:\n%s%s"):format(b.line, tostring(code), out, err))
      end
    end
    assert.is_true(n >= 3, "the page's examples were read")
    -- every option named in the table's Lua column is one detector.new or det:crops takes
    local det_opts = {}
    for line in doc:gmatch("[^\n]+") do
      local cols = {}
      for c in line:gmatch("|([^|]*)") do cols[#cols + 1] = c end
      local lua_col = line:match("^|") and cols[4]
      if lua_col then
        for name in lua_col:gmatch("`([%a_]+) = ") do det_opts[name] = true end
      end
    end
    local crops_only = {size = true, margin = true, mode = true, square = true, normalize = true}
    local checked = 0
    for name in pairs(det_opts) do
      if not crops_only[name] then
        checked = checked + 1
        local ok, err = pcall(mtcnn_detector_new_with, name)
        assert(ok, ("docs/coming_from.md names detector option %s: %s"):format(name, tostring(err)))
      end
    end
    assert.is_true(checked >= 8, "the table's options were read")
  end)

  it("names only functions and methods that exist in its Lua API section", function()
    local mtcnn = require "mtcnn"
    local T = mtcnn.tensor
    local img = mtcnn.image.new(4, 4)
    local net = mtcnn.models.pnet()
    -- the names the README writes values as, and what they stand for
    local values = {
      mtcnn = mtcnn, T = T, nn = mtcnn.nn, optim = mtcnn.optim, models = mtcnn.models,
      image = mtcnn.image, box = mtcnn.box, sample = mtcnn.sample, data = mtcnn.data,
      record = mtcnn.record, loader = mtcnn.loader, detector = mtcnn.detector, eval = mtcnn.eval,
      cuda = mtcnn.cuda, sys = mtcnn.sys, json = mtcnn.json, cli = mtcnn.cli, progress = mtcnn.progress,
      faces = mtcnn.faces, repl = mtcnn.repl, train = require "mtcnn.train",
      ["mtcnn.box"] = mtcnn.box, ["mtcnn.sample"] = mtcnn.sample, ["mtcnn.data"] = mtcnn.data,
      ["optim.schedule"] = mtcnn.optim.schedule,
      t = T.ones(2), img = img, det = assert(mtcnn.detector.new()), m = mtcnn.nn.Linear(2, 3),
      g = T.generator(1), net = net, plan = mtcnn.nn.plan(net),
      opt = mtcnn.optim.SGD({T.ones(1)}, {T.zeros(1)}, {lr = 0.1}),
      bar = mtcnn.progress.new{total = 1, enabled = false},
    }
    local api = section("Lua API")
    local missing, checked = {}, 0
    for code in prose(api):gmatch("`([^`]+)`") do
      for owner, sep, name in code:gmatch("([%a_][%w_.]*)([.:])([%a_][%w_]*)%s*[%({]") do
        local v = values[owner]
        if v ~= nil then
          checked = checked + 1
          local ok, f = pcall(function() return v[name] end)
          if not ok or f == nil then missing[#missing + 1] = owner .. sep .. name end
        end
      end
    end
    assert.is_true(checked > 100, "the API section's names were read")
    assert.are.same({}, missing)
  end)

  it("lists only options the scripts take", function()
    local missing, checked = {}, 0
    for code in prose(section("Command-line tools")):gmatch("`([^`]+)`") do
      local script = code:match("^mtcnn scripts/([%w_]+%.lua)")
      if script then
        local help = helper.mtcnn("scripts/" .. script .. " --help")
        for flag in code:gmatch("%-%-[%w-]+") do
          checked = checked + 1
          if not help:find(flag, 1, true) then missing[#missing + 1] = script .. " " .. flag end
        end
      end
    end
    assert.is_true(checked > 20, "the section's options were read")
    assert.are.same({}, missing)
  end)
end)

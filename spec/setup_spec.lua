-- scripts/setup.sh makes `mtcnn` a command: the build with its progress shown, then a link in
-- MTCNN_BIN_DIR (~/.local/bin by default). Runs only where it costs nothing: every package
-- installed and build/ already configured and built (the run is then a no-op build).
local helper = require "helper"
local q = helper.q

describe("scripts/setup.sh", function()
  it("builds with progress and links mtcnn, which then runs from anywhere", function()
    local real = helper.run("readlink -f " .. q(helper.bin)):gsub("%s+$", "")
    local build = helper.run("readlink -f " .. q(helper.home .. "/build/mtcnn")):gsub("%s+$", "")
    if real ~= build or not helper.exists(helper.home .. "/build/CMakeCache.txt") then
      return pending("runs only against a configured build/ (this run tests " .. helper.bin .. ")")
    end
    local _, missing = helper.run("for p in lua-busted tmux cmake liblua5.4-dev libturbojpeg0-dev; do " ..
      "dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'install ok installed' || exit 1; done")
    if missing ~= 0 then return pending("some Debian packages are missing: setup.sh would install them") end
    local dir = helper.tmpdir()
    local out, code, err = helper.run("MTCNN_BIN_DIR=" .. q(dir .. "/bin") .. " sh " ..
      q(helper.home .. "/scripts/setup.sh"))
    assert.are.equal(0, code, err)
    assert.matches("setup: building 100%", out, 1, true)
    assert.matches("setup: linked " .. dir .. "/bin/mtcnn", out, 1, true)
    assert.matches("is not on your PATH", out, 1, true)
    -- the README's commands, as written, from another folder
    local v
    v, code = helper.run("cd " .. q(dir) .. " && PATH=" .. q(dir .. "/bin") .. ":$PATH mtcnn --version")
    assert.are.equal(0, code)
    assert.matches("^mtcnn %d", v)
    v, code = helper.run("cd " .. q(helper.home) .. " && PATH=" .. q(dir .. "/bin") .. ":$PATH mtcnn detect " ..
      "--quiet --json - examples/astronaut.png")
    assert.are.equal(0, code)
    assert.matches('"image":"examples/astronaut.png"', v, 1, true)
    -- a file that is not a link is left alone
    os.remove(dir .. "/bin/mtcnn")
    helper.write_file(dir .. "/bin/mtcnn", "mine")
    out = helper.run("MTCNN_BIN_DIR=" .. q(dir .. "/bin") .. " sh " .. q(helper.home .. "/scripts/setup.sh"))
    assert.matches("exists and is not a link: left alone", out, 1, true)
    assert.are.equal("mine", helper.read_file(dir .. "/bin/mtcnn"))
    helper.rmdir(dir)
  end)
end)

-- The evaluators driven by the detector: landmark error with --model, and the
-- WIDER submission layout written by detect.lua.
local helper = require "helper"
local json = require "mtcnn.json"
local q = helper.q

describe("evaluation with the detector", function()
  it("measures the landmark error of the bundled model on a few test faces", function()
    helper.need_shared("the landmark test list")
    local dir = helper.tmpdir()
    local list = dir .. "/five.txt"
    local lines = {}
    for l in io.lines(helper.shared .. "/data/landmarks/testImageList.dev.txt") do
      lines[#lines + 1] = l
      if #lines == 5 then break end
    end
    helper.write_file(list, table.concat(lines, "\n") .. "\n")
    local out, code, err = helper.mtcnn("scripts/eval_landmarks.lua --json --list " .. q(list) ..
      " --root " .. q(helper.shared .. "/data/landmarks"))
    assert.are.equal(0, code, err)
    local r = assert(json.decode(out))
    assert.are.equal(5, r.faces)
    assert.are.equal(0, r.misses)
    assert.is_true(r.nme > 0 and r.nme < 0.1, "nme " .. tostring(r.nme))
    helper.rmdir(dir)
  end)

  it("gives the same WIDER AP from detect.lua's submission layout as from its JSON Lines", function()
    helper.need_shared("the WIDER val images")
    local dir = helper.tmpdir()
    local src = helper.shared .. "/data/wider/WIDER_val/images/0--Parade"
    local names = require("mtcnn").sys.listdir(src)
    os.execute("mkdir -p " .. q(dir .. "/img/0--Parade"))
    for k = 1, 3 do os.execute("cp " .. q(src .. "/" .. names[k]) .. " " .. q(dir .. "/img/0--Parade/")) end
    local _, code, err = helper.mtcnn("scripts/detect.lua --quiet --json " .. q(dir .. "/d.jsonl") ..
      " --wider " .. q(dir .. "/sub") .. " " .. q(dir .. "/img"))
    assert.are.equal(0, code, err)
    local gt = helper.shared .. "/data/wider/eval_tools/ground_truth"
    local a, code_a = helper.mtcnn("scripts/eval_wider.lua --json --pred " .. q(dir .. "/d.jsonl") .. " --gt " .. q(gt))
    local b, code_b = helper.mtcnn("scripts/eval_wider.lua --json --pred " .. q(dir .. "/sub") .. " --gt " .. q(gt))
    assert.are.equal(0, code_a)
    assert.are.equal(0, code_b)
    local ra, rb = assert(json.decode(a)), assert(json.decode(b))
    for _, k in ipairs({"easy", "medium", "hard"}) do
      assert.is_true(ra[k] >= 0 and ra[k] <= 1)
      helper.near(ra[k], rb[k], 1e-6, k)
    end
    assert.is_true(ra.easy > 0.3, "easy AP " .. ra.easy)
    helper.rmdir(dir)
  end)
end)

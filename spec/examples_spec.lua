-- The scripts of examples/ run as written.
local helper = require "spec.helper"
local record = require "mtcnn.record"
local config = require "mtcnn.config"

describe("examples", function()
  it("custom_pnet_data.lua generates with its own thresholds and records them", function()
    helper.need_shared("WIDER FACE")
    local out = helper.tmpdir() .. "/custom"
    local text, code, err = helper.mtcnn("examples/custom_pnet_data.lua "
      .. helper.q(helper.shared .. "/data/wider") .. " " .. helper.q(out) .. " 3")
    assert.are.equal(0, code, err)
    assert.matches("3 sampled", text)
    local used = assert(config.load_file("pnet", out .. "/config.lua"))
    assert.are.equal(0.25, used.detection.neg_iou)
    assert.are.equal(0.6, used.detection.pos_iou)
    -- the settings reached the sampler: stored IoUs respect them
    local f = assert(record.open(out .. "/train.rec"))
    local n = {positive = 0, negative = 0}
    for _, s in f:samples() do
      if s.label == 0 then
        n.negative = n.negative + 1
        assert.is_true(s.iou < 0.25, "a negative with IoU " .. s.iou)
      elseif s.label == 1 then
        n.positive = n.positive + 1
        assert.is_true(s.iou >= 0.6, "a positive with IoU " .. s.iou)
      end
    end
    f:close()
    assert.is_true(n.negative > 0 and n.positive > 0)
  end)
end)

-- A record writer killed with SIGKILL (a separate process) loses nothing that it committed and
-- leaves no half-sample visible: the file opens, verifies, holds exactly a committed prefix,
-- and a new writer continues it.

local helper = require "helper"
local F = require "record_fixtures"
local mtcnn = require "mtcnn"

local record, sys = mtcnn.record, mtcnn.sys

local LABELS = {1, 0, -1, -2}

-- The writer process: appends fixture samples after those in the file, committing every
-- `every` samples; in "pause" mode it stops after `stop` samples (the last ones uncommitted but
-- flushed to the file), writes a marker file and waits to be killed.
local WRITER = [[
package.path = arg[1] .. "/spec/?.lua;" .. package.path
local record = require("mtcnn").record
local F = require "record_fixtures"
local path, mode, every, stop, marker = arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5]), arg[6]
local LABELS = {1, 0, -1, -2}
local w = assert(record.writer(path, {size = 12, block = 8}))
local i = w:count()
while true do
  i = i + 1
  assert(w:add(F.sample(i, 12, LABELS[(i - 1) % 4 + 1])))
  if i % every == 0 then assert(w:commit()) end
  if mode == "pause" and i == stop then
    local m = assert(io.open(marker, "w")); m:close()
    while true do require("mtcnn").sys.sleep(1) end
  end
  if i >= 2000000 then break end
end
]]

local function wait_for(cond, what, timeout)
  local t0 = sys.clock()
  while not cond() do
    if sys.clock() - t0 > (timeout or 30) then error("timed out waiting for " .. what) end
    sys.sleep(0.01)
  end
end

local function start(dir, script, path, mode, every, stop, marker)
  local pidfile = dir .. "/pid"
  os.remove(pidfile)
  os.execute(("%s %s %s %s %s %d %d %s >%s 2>&1 & echo $! > %s"):format(
    helper.q(helper.bin), helper.q(script), helper.q(helper.home), helper.q(path), mode, every,
    stop or 0, helper.q(marker or "-"), helper.q(dir .. "/writer.log"), helper.q(pidfile)))
  local pid
  wait_for(function()
    local f = io.open(pidfile)
    if f then pid = tonumber(f:read("l")) f:close() end
    return pid ~= nil
  end, "the writer's pid")
  return pid
end

local function kill9(pid)
  os.execute("kill -9 " .. pid .. " 2>/dev/null")
  -- gone (or a zombie, which holds no files) within a moment
  local t0 = sys.clock()
  while sys.clock() - t0 < 2 do
    if helper.gone(pid) then return end
    sys.sleep(0.01)
  end
end

-- Every sample is the fixture sample of its index; the counts agree with the header.
local function check_file(path, every)
  local f = assert(record.open(path, {size = 12}))
  local n = f.count
  assert.are.equal(0, n % every, "the count is a committed one")
  assert.are.equal(0, f:verify().nbad)
  local counts = {positive = 0, negative = 0, part = 0, landmark = 0}
  local labels = assert(f:labels())
  for i = 1, n do
    local want = LABELS[(i - 1) % 4 + 1]
    assert.are.equal(want, labels[i], "label of sample " .. i)
    counts[record.class_name(want)] = counts[record.class_name(want)] + 1
  end
  assert.are.same(counts, f:counts())
  for i = 1, n, math.max(1, n // 50) do
    local s = assert(f:get(i))
    assert.are.equal("img" .. i .. ".jpg", s.source)
    assert.is_true(s.image == F.sample(i, 12, LABELS[(i - 1) % 4 + 1]).image, "pixels of " .. i)
  end
  f:close()
  return n
end

describe("record writer killed with SIGKILL", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmdir(dir) end)

  it("keeps every commit and cuts the uncommitted tail on the next append", function()
    local script = dir .. "/writer.lua"
    helper.write_file(script, WRITER)
    local path = dir .. "/k.rec"

    -- 1. killed with 3,999 uncommitted samples (2.3 MB: more than the 1 MB write buffer, so
    --    part of them is in the file) after the commit of 4,000
    local marker = dir .. "/paused"
    local pid = start(dir, script, path, "pause", 4000, 7999, marker)
    wait_for(function() return io.open(marker) ~= nil end, "the writer to pause")
    kill9(pid)
    assert.is_true(F.size_of(path) > F.offset(4001, 12, 8) + 1000000,
      "uncommitted samples reached the file")
    assert.are.equal(4000, check_file(path, 4000))

    -- 2. killed at arbitrary moments while writing and committing
    local last = 4000
    for round = 1, 3 do
      pid = start(dir, script, path, "run", 97, nil, nil)
      wait_for(function()
        local f = record.open(path)
        return f and f.count >= last + 1500
      end, "the writer to commit")
      sys.sleep(0.013 * round)
      kill9(pid)
      local n = check_file(path, 97)
      assert.is_true(n >= last + 1500)
      last = n
    end

    -- 3. a writer continues from the last commit, cutting what the killed one left
    local w = assert(record.writer(path, {size = 12}))
    assert.are.equal(last, w:count())
    for i = last + 1, last + 5 do assert(w:add(F.sample(i, 12, LABELS[(i - 1) % 4 + 1]))) end
    assert(w:close())
    local f = assert(record.open(path))
    assert.are.equal(last + 5, f.count)
    assert.are.equal(0, f:verify().nbad)
    assert.are.equal("img" .. (last + 5) .. ".jpg", assert(f:get(last + 5)).source)
    assert.are.equal(F.offset(last + 6, 12, 8), F.size_of(path))
  end)
end)

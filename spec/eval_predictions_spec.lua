-- Reading and writing detections (mtcnn.eval.predictions), result files
-- (mtcnn.eval.results), image sizes (mtcnn.eval.imagesize) and the pictures
-- (mtcnn.eval.plot).

local helper = require "helper"
local json = require "mtcnn.json"
local predictions = require "mtcnn.eval.predictions"
local results = require "mtcnn.eval.results"
local imagesize = require "mtcnn.eval.imagesize"
local plot = require "mtcnn.eval.plot"

describe("predictions", function()
  it("keys images by their last path parts without the extension", function()
    assert.are.equal("0--Parade/0_Parade_x", predictions.key("/d/WIDER_val/images/0--Parade/0_Parade_x.jpg", 2))
    assert.are.equal("0--Parade/0_Parade_x", predictions.key("0--Parade\\0_Parade_x.jpg", 2))
    assert.are.equal("2002/08/11/big/img_591", predictions.key("originalPics/2002/08/11/big/img_591.jpg", 5))
    assert.are.equal("2002/08/11/big/img_591", predictions.key("2002/08/11/big/img_591", 5))
    assert.are.equal("a", predictions.key("a.png", 2))
    assert.are.same({3, 4, 10, 20}, {predictions.xywh({3, 4, 12, 23})})
  end)

  it("reads JSON Lines and names the line of a bad record", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/p.jsonl", '{"image": "e/a.jpg", "width": 10, "height": 8, "faces": '
      .. '[{"box": [1, 2, 5.5, 6], "score": 0.5, "landmarks": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]}]}\n\n'
      .. '{"image": "e/b.jpg", "faces": []}\n')
    local recs = assert(predictions.read_jsonl(dir .. "/p.jsonl"))
    assert.are.equal(2, #recs)
    assert.are.same({1, 2, 5.5, 5, 0.5}, recs[1].boxes[1])
    assert.are.same({10, 8, 1}, {recs[1].width, recs[1].height, recs[1].line})
    assert.are.equal(3, recs[2].line)
    local cases = {
      {"{\"image\": 1}", "p.jsonl:1: each line must be an object with an \"image\" path"},
      {"{\"image\": \"a\", \"faces\": {}}\n{oops", "p.jsonl:2: not JSON"},
      {"{\"image\": \"a\", \"faces\": [{\"box\": [1, 2, 3, 4]}]}", "p.jsonl:1: a face has no finite \"score\""},
      {"{\"image\": \"a\"}", "p.jsonl:1: \"faces\" must be a list"},
    }
    for _, c in ipairs(cases) do
      helper.write_file(dir .. "/p.jsonl", c[1] .. "\n")
      local r, err = predictions.read_jsonl(dir .. "/p.jsonl")
      assert.is_nil(r)
      assert.truthy(err:find(c[2], 1, true), err)
    end
    local by, err = predictions.index({{image = "x/e/a.jpg", line = 1}, {image = "y/e/a.png", line = 4}}, 2, "p")
    assert.is_nil(by)
    assert.are.equal("p: image e/a appears twice (lines 1 and 4)", err)
    helper.rmdir(dir)
  end)

  it("writes the official submission layout and reads it back exactly", function()
    local dir = helper.tmpdir()
    local faces = {{box = {10.25, 20, 29.75, 45}, score = 0.123456789012345}, {box = {0, 0, 0, 0}, score = 1}}
    local path = assert(predictions.write_wider(dir .. "/out", "/x/images/0--Parade/0_Parade_a.jpg", faces))
    assert.are.equal(dir .. "/out/0--Parade/0_Parade_a.txt", path)
    assert.are.equal("0_Parade_a.jpg\n2\n10.25 20 20.5 26 0.123456789012345\n0 0 1 1 1\n", helper.read_file(path))
    local boxes = assert(predictions.read_wider_file(path))
    assert.are.same({{10.25, 20, 20.5, 26, 0.123456789012345}, {0, 0, 1, 1, 1}}, boxes)
    assert.is_true(predictions.is_dir(dir .. "/out/0--Parade"))
    assert.is_false(predictions.is_dir(path))
    local _, err = predictions.write_wider(dir, "noevent.jpg", faces)
    assert.truthy(err:find("has no event folder"), err)
    -- a file that says more faces than it has
    helper.write_file(dir .. "/short.txt", "a.jpg\n3\n1 2 3 4 0.5\n")
    _, err = predictions.read_wider_file(dir .. "/short.txt")
    assert.truthy(err:find("short.txt: says 3 faces but has 1 box lines"), err)
    helper.write_file(dir .. "/nan.txt", "a.jpg\n1\n1 2 3 x 0.5\n")
    _, err = predictions.read_wider_file(dir .. "/nan.txt")
    assert.truthy(err:find("nan.txt:3: 'x' is not a number"), err)
    helper.rmdir(dir)
  end)

  it("reads rectangle lists (FDDB detections)", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/d.txt", "2002/a\r\n2\r\n1 2 3 4 0.9\r\n5 6 7 8 0.1\r\n2002/b\r\n0\r\n")
    local recs = assert(predictions.read_rect_file(dir .. "/d.txt"))
    assert.are.equal(2, #recs)
    assert.are.same({"2002/a", "2002/b"}, {recs[1].image, recs[2].image})
    assert.are.same({{1, 2, 3, 4, 0.9}, {5, 6, 7, 8, 0.1}}, recs[1].boxes)
    assert.are.same({}, recs[2].boxes)
    helper.write_file(dir .. "/d.txt", "2002/a\n2\n1 2 3 4 0.9\n")
    local _, err = predictions.read_rect_file(dir .. "/d.txt")
    assert.truthy(err:find("2002/a says 2 boxes, the file ends after 1"), err)
    helper.rmdir(dir)
  end)
end)

describe("results files", function()
  it("save and load a run, and refuse the wrong kind", function()
    local dir = helper.tmpdir()
    assert(results.save(dir .. "/r.json", "wider", "mine", {easy = 0.5}, {easy = {recall = {0.1}, precision = {0 / 0}}}))
    local doc = assert(results.load(dir .. "/r.json", "wider"))
    assert.are.equal("mine", doc.label)
    assert.are.equal(0.5, doc.summary.easy)
    assert.are.equal(json.null, doc.curves.easy.precision[1]) -- NaN is written as null
    local _, err = results.load(dir .. "/r.json", "fddb")
    assert.truthy(err:find("holds wider results, fddb results expected"), err)
    local list = assert(results.load_list(dir .. "/r.json," .. dir .. "/r.json", "wider"))
    assert.are.equal(2, #list)
    _, err = results.load_list(dir .. "/none.json", "wider")
    assert.truthy(err:find("cannot open result file"), err)
    helper.rmdir(dir)
  end)
end)

describe("imagesize", function()
  it("reads the size of JPEG and PNG files from their headers", function()
    helper.need_shared("the sample images")
    assert.are.same({400, 400}, {imagesize.read(helper.shared .. "/data/landmarks/net_7876/0_0_0.jpg")})
    assert.are.same({640, 480}, {imagesize.read(helper.shared .. "/images/multiface_640x480.png")})
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/x.jpg", "not an image")
    local w, err = imagesize.read(dir .. "/x.jpg")
    assert.is_nil(w)
    assert.truthy(err:find("not a JPEG or PNG file"), err)
    helper.rmdir(dir)
  end)
end)

describe("plot", function()
  local figure = {title = "t's", panels = {{title = "a", xlabel = "x", ylabel = "y", xrange = {0, 1}, yrange = {0, 1},
    series = {{label = "run_1 'q'", x = {0, 0.5, 1}, y = {1, 0 / 0, 0.5}}, {label = "empty", x = {}, y = {}}}}}}

  it("draws a PNG with gnuplot, or says why it cannot", function()
    local dir = helper.tmpdir()
    if plot.available() then
      assert(plot.draw(figure, dir .. "/f.png"))
      assert.are.equal("\x89PNG", helper.read_file(dir .. "/f.png"):sub(1, 4))
    end
    -- an unknown program: nil and a message, no file
    local out = helper.run(("MTCNN_GNUPLOT=/nonexistent/gnuplot %s -e %s"):format(helper.q(helper.bin),
      helper.q("local p = require('mtcnn.eval.plot'); print(p.draw({panels = {}}, '" .. dir .. "/g.png'))")))
    assert.truthy(out:find("nil\tgnuplot is not available"), out)
    assert.is_nil(io.open(dir .. "/g.png"))
    helper.rmdir(dir)
  end)
end)

-- mtcnn.json: encoding and decoding.
local json = require("mtcnn").json

describe("json", function()
  it("encodes scalars, arrays and objects with sorted keys", function()
    assert.are.equal('null', json.encode(nil))
    assert.are.equal('true', json.encode(true))
    assert.are.equal('3', json.encode(3))
    assert.are.equal('3', json.encode(3.0))
    assert.are.equal('0.1', json.encode(0.1))
    assert.are.equal('-1.5e-07', json.encode(-1.5e-7))
    assert.are.equal('null', json.encode(0 / 0))
    assert.are.equal('"a\\"b\\\\c\\n\\u0001"', json.encode('a"b\\c\n\1'))
    assert.are.equal('[1,2,[3]]', json.encode({1, 2, {3}}))
    assert.are.equal('{"a":1,"b":[true,false]}', json.encode({b = {true, false}, a = 1}))
    assert.are.equal('[]', json.encode({}))
    assert.are.equal('{}', json.encode(json.object()))
  end)

  it("keeps a given key order", function()
    local t = json.ordered({faces = {}, image = "x.jpg", width = 640}, {"image", "width", "faces"})
    assert.are.equal('{"image":"x.jpg","width":640,"faces":[]}', json.encode(t))
  end)

  it("round-trips numbers exactly", function()
    for _, v in ipairs({0.1, 1 / 3, 1e300, -2.5e-300, 123456789.123, 2 ^ 53}) do
      assert.are.equal(v, json.decode(json.encode(v)))
    end
  end)

  it("decodes nested documents, escapes and unicode", function()
    local v = json.decode(' {"a": [1, 2.5, -3e2, "x\\u00e9\\ud83d\\ude00"], "b": {"c": null}, "d": false} ')
    assert.are.same({1, 2.5, -300, "x\u{e9}\u{1F600}"}, v.a)
    assert.are.equal(json.null, v.b.c)
    assert.is_false(v.d)
    assert.are.equal(3, math.tointeger(json.decode("3")))
  end)

  it("reports malformed input with a position", function()
    local v, err = json.decode('{"a": [1, 2,]}')
    assert.is_nil(v)
    assert.matches("unexpected character ']' at line 1, column 13", err, 1, true)
    v, err = json.decode('{"a": 1}\n x')
    assert.is_nil(v)
    assert.matches("trailing characters at line 2, column 2", err, 1, true)
    v, err = json.decode('"abc')
    assert.is_nil(v)
    assert.matches("unterminated string", err, 1, true)
  end)

  it("refuses values JSON cannot hold", function()
    assert.has_error(function() json.encode({f = print}) end, "json.encode: cannot encode a function")
    local loop = {}
    loop.self = loop
    assert.has_error(function() json.encode(loop) end, "json.encode: the table refers to itself")
  end)

  it("pretty-prints with an indent", function()
    assert.are.equal('{\n  "a": [\n    1\n  ]\n}', json.encode({a = {1}}, {indent = "  "}))
  end)
end)

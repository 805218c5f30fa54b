-- mtcnn.eval.results: result files of the evaluators, so that runs can be
-- compared in one plot later.
--
--   results.save(path, kind, label, summary, curves) -> true | nil, message
--   results.load(path [, kind]) -> {kind, label, summary, curves} | nil, message
--   results.load_list("a.json,b.json", kind) -> list | nil, message
--
-- A result file is one JSON object {"kind": "wider" | "fddb" | "landmarks",
-- "label": ..., "summary": the --json object, "curves": the points to draw},
-- written to a temporary file and renamed.

local json = require "mtcnn.json"
local predictions = require "mtcnn.eval.predictions"

local results = {}

function results.save(path, kind, label, summary, curves)
  local doc = json.ordered({kind = kind, label = label, summary = summary, curves = curves},
    {"kind", "label", "summary", "curves"})
  return predictions.write_atomic(path, json.encode(doc) .. "\n")
end

function results.load(path, kind)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open result file " .. err end
  local text = f:read("a")
  f:close()
  local doc, jerr = json.decode(text)
  if type(doc) ~= "table" then return nil, ("%s: not a result file (%s)"):format(path, tostring(jerr)) end
  if type(doc.kind) ~= "string" or type(doc.curves) ~= "table" then
    return nil, path .. ": not a result file (no kind or curves; write one with --save)"
  end
  if kind and doc.kind ~= kind then
    return nil, ("%s: holds %s results, %s results expected"):format(path, doc.kind, kind)
  end
  doc.label = type(doc.label) == "string" and doc.label or path:match("([^/]+)%.json$") or path
  return doc
end

--- Loads a comma-separated list of result files (nil or "" gives an empty list).
function results.load_list(list, kind)
  local out = {}
  if list == nil or list == "" then return out end
  for path in list:gmatch("[^,]+") do
    local doc, err = results.load(path, kind)
    if not doc then return nil, err end
    out[#out + 1] = doc
  end
  return out
end

return results

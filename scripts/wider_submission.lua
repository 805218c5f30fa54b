-- wider_submission.lua: converts our detect JSON Lines into the official WIDER FACE
-- submission layout (OUT/EVENT/NAME.txt: image name, face count, "x y w h score").
--   mtcnn scripts/wider_submission.lua --pred FILE.jsonl --out DIR

local cli = require "mtcnn.cli"
local predictions = require "mtcnn.eval.predictions"

local args, fail = cli.script(arg, {
  name = "wider_submission.lua",
  usage = "mtcnn scripts/wider_submission.lua --pred FILE.jsonl --out DIR",
  description = "Writes one EVENT/NAME.txt per image of the JSON Lines under DIR, in the layout the\n"
    .. "official WIDER FACE tools (and eval_wider.lua) read; w = x2 - x1 + 1 of our inclusive boxes.",
  options = {
    {name = "pred", kind = "string", metavar = "FILE", required = true, help = "our detect JSON Lines"},
    {name = "out", kind = "string", metavar = "DIR", required = true, help = "output folder (created)"},
  },
})
local n, err, kind = predictions.jsonl_to_wider(args.pred, args.out)
if not n then fail(err, kind == "output" and cli.EXIT.output or cli.EXIT.failed) end
print(("wrote %d files under %s"):format(n, args.out))

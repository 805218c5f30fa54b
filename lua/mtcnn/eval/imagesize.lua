-- mtcnn.eval.imagesize: the width and height of a JPEG or PNG file from its
-- header, without decoding it (FDDB clips regions to the image).
--
--   imagesize.read(path) -> width, height | nil, message

local imagesize = {}

local function be16(s, i) return s:byte(i) * 256 + s:byte(i + 1) end
local function be32(s, i) return ((s:byte(i) * 256 + s:byte(i + 1)) * 256 + s:byte(i + 2)) * 256 + s:byte(i + 3) end

-- SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
local SOF = {[0xC0] = true, [0xC1] = true, [0xC2] = true, [0xC3] = true, [0xC5] = true, [0xC6] = true,
             [0xC7] = true, [0xC9] = true, [0xCA] = true, [0xCB] = true, [0xCD] = true, [0xCE] = true,
             [0xCF] = true}

local function jpeg_size(f, path)
  local pos = 2
  while true do
    f:seek("set", pos)
    local head = f:read(4)
    if not head or #head < 4 then break end
    if head:byte(1) ~= 0xFF then return nil, path .. ": corrupt JPEG marker" end
    local marker = head:byte(2)
    if marker == 0xFF then
      pos = pos + 1 -- fill byte
    elseif marker == 0xD8 or (marker >= 0xD0 and marker <= 0xD7) or marker == 0x01 then
      pos = pos + 2
    elseif marker == 0xD9 or marker == 0xDA then
      break -- end of image or start of scan before any frame header
    else
      local len = be16(head, 3)
      if SOF[marker] then
        local body = f:read(5)
        if not body or #body < 5 then break end
        return be16(body, 4), be16(body, 2)
      end
      pos = pos + 2 + len
    end
  end
  return nil, path .. ": no JPEG frame header"
end

function imagesize.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open image " .. err end
  local head = f:read(24) or ""
  local w, h, why
  if head:sub(1, 2) == "\xFF\xD8" then
    w, h = jpeg_size(f, path)
    if not w then why = h end
  elseif head:sub(1, 8) == "\x89PNG\r\n\26\n" and #head >= 24 and head:sub(13, 16) == "IHDR" then
    w, h = be32(head, 17), be32(head, 21)
  else
    why = path .. ": not a JPEG or PNG file"
  end
  f:close()
  if not w then return nil, why end
  return w, h
end

return imagesize

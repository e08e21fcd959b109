local words = ""
local equal = 0
for round = 0, 9999 do
  local s = ""
  for i = 0, 99 do
    s = s .. "ab"
    if s == words then equal = equal + 1 end
  end
  words = s
end
print(equal)
local a = "x"
local matches = 0
for i = 0, 19999999 do
  local b = "x" .. "y"
  if b == "xy" then matches = matches + 1 end
  if a == b then matches = matches - 1 end
end
print(matches)

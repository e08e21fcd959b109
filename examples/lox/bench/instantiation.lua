local function point(x, y) return { x = x, y = y } end
local sum = 0
for i = 0, 9999999 do
  local p = point(i, i + 1)
  local q = point(p.y, p.x)
  sum = sum + q.x - q.y
end
print(sum)

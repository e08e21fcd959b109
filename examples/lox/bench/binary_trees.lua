-- Binary trees, as binary_trees.lox: nodes are tables with named fields.
local function node(depth)
  if depth > 0 then
    return { left = node(depth - 1), right = node(depth - 1) }
  end
  return { left = false, right = false }
end
local function count(t)
  if not t.left then return 1 end
  return 1 + count(t.left) + count(t.right)
end
local maxDepth = 16
local stretch = node(maxDepth + 1)
print("stretch tree of depth 17, nodes:")
print(count(stretch))
stretch = nil
local longLived = node(maxDepth)
for depth = 4, maxDepth, 2 do
  local iterations = 1 << (maxDepth - depth + 4)
  local total = 0
  for i = 1, iterations do total = total + count(node(depth)) end
  print(total)
end
print("long lived tree, nodes:")
print(count(longLived))

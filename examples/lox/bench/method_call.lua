local Toggle = {}
Toggle.__index = Toggle
function Toggle.new(state) return setmetatable({ state = state }, Toggle) end
function Toggle:value() return self.state end
function Toggle:activate() self.state = not self.state; return self end
local Counter = setmetatable({}, { __index = Toggle })
Counter.__index = Counter
function Counter.new(state, limit)
  local c = setmetatable({ state = state }, Counter)
  c.limit = limit; c.count = 0
  return c
end
function Counter:activate()
  self.count = self.count + 1
  if self.count >= self.limit then Toggle.activate(self); self.count = 0 end
  return self
end
local n = 6000000
local t = Toggle.new(true)
for i = 1, n do t:activate():activate():activate() end
print(t:value())
local c = Counter.new(true, 3)
for i = 1, n do c:activate():activate():activate() end
print(c:value())

-- wrk script for bench/_wrk.py: POST the file named by WRK_BODY as JSON, with extra headers from
-- WRK_HEADER_0, WRK_HEADER_1, ... ("Name: value").
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local i = 0
while os.getenv("WRK_HEADER_" .. i) do
  local name, value = os.getenv("WRK_HEADER_" .. i):match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
  i = i + 1
end

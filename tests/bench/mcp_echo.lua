-- mcp_echo.lua -- a wrk script that speaks MCP: each connection's first
-- request initializes a session, and every later one is a tools/call of
-- the hello plugin's echo tool in that session. A non-2xx status or a
-- JSON-RPC error in a body counts as an error, and the run fails with a
-- message (exit 1 from the wrapper) if there was any.
--   wrk -t1 -c32 -d10s -s tests/bench/mcp_echo.lua http://127.0.0.1:8000/mcp
local session = nil
errors = 0 -- a global: done() reads it from each thread with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local init_body = '{"jsonrpc":"2.0","id":0,"method":"initialize","params":' ..
  '{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}'
local call_body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' ..
  '{"name":"echo","arguments":{"text":"hello, mcpd"}}}'

function request()
  if session == nil then
    return wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json, text/event-stream",
    }, init_body)
  end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["Mcp-Session-Id"] = session,
    ["MCP-Protocol-Version"] = "2025-11-25",
  }, call_body)
end

function response(status, headers, body)
  if status < 200 or status > 299 or string.find(body, '"error"', 1, true) then
    errors = errors + 1
  end
  local sid = headers["Mcp-Session-Id"] or headers["mcp-session-id"]
  if sid then
    session = sid
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + (t:get("errors") or 0)
  end
  io.write(string.format("mcp_errors %d\n", total))
  io.write(string.format("latency_p50_us %d\nlatency_p99_us %d\n",
    latency:percentile(50), latency:percentile(99)))
end

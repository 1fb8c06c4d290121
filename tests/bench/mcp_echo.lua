-- mcp_echo.lua -- a wrk script that speaks MCP's Streamable HTTP transport:
-- each wrk thread initializes a session, keeps its Mcp-Session-Id (read
-- from the headers whatever their case), and loops tools/call in it, each
-- request with its own JSON-RPC id. Replies may be JSON or SSE
-- (text/event-stream): the checks below read the whole body, so an error
-- inside an SSE event's data counts the same as one in a JSON reply.
--
--   wrk -t1 -c32 -d10s -s tests/bench/mcp_echo.lua http://127.0.0.1:8000/mcp
--
-- Counted as errors: a status outside 2xx; a JSON-RPC "error" in the body;
-- a tool result with "isError": true; a 2xx reply to a request with no
-- "result" in it (such as a 202 with an empty body); socket errors and
-- timeouts. done() prints the counts and the latency percentiles, and ends
-- wrk with exit status 1 if there was any error.
--
-- Environment (read with os.getenv, so one script drives every tool):
--   MCP_TOOL      the tool to call                  (default: echo)
--   MCP_ARGS      its arguments, a JSON object      (default: {"text":"hello, mcpd"})
--   MCP_PROTOCOL  protocol revision to ask for      (default: 2025-11-25)
--   MCP_AUTH      a bearer token sent with every request, initialize included
--   MCP_MODE      session    initialize, then tools/call in the session (default)
--                 nosession  POST the same tools/call with no session (for a plain
--                            HTTP server standing in for the limit: nginx return 200)
--                 get        GET the URL (a REST backend measured directly)
--                 modern     2026-07-28: no session; each tools/call carries its
--                            version and capabilities in _meta and the headers
-- With several threads (-t), each thread has its own session, shared by its
-- connections; wrk gives a script no way to tell its connections apart.
local tool = os.getenv("MCP_TOOL") or "echo"
local args = os.getenv("MCP_ARGS") or '{"text":"hello, mcpd"}'
local protocol = os.getenv("MCP_PROTOCOL") or "2025-11-25"
local mode = os.getenv("MCP_MODE") or "session"
local auth = os.getenv("MCP_AUTH")

local session = nil
local next_id = 1
-- Globals, so that done() can read them from each thread with thread:get.
non2xx = 0
rpc_errors = 0
tool_errors = 0
no_result = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local init_body = '{"jsonrpc":"2.0","id":0,"method":"initialize","params":' ..
  '{"protocolVersion":' .. json_string(protocol) .. ',"capabilities":{},' ..
  '"clientInfo":{"name":"wrk","version":"1"}}}'
local call_head = '{"jsonrpc":"2.0","id":'
local call_tail = ',"method":"tools/call","params":{"name":' .. json_string(tool) ..
  ',"arguments":' .. args .. '}}'
if mode == "modern" then
  call_tail = ',"method":"tools/call","params":{"name":' .. json_string(tool) ..
    ',"arguments":' .. args .. ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
    '"io.modelcontextprotocol/clientCapabilities":{}}}}'
end

local function call_body()
  next_id = next_id + 1
  return call_head .. next_id .. call_tail
end

function request()
  if mode == "get" then
    return wrk.format("GET", nil, { ["Accept"] = "application/json" })
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
  }
  if auth ~= nil then
    headers["Authorization"] = "Bearer " .. auth
  end
  if mode == "nosession" then
    return wrk.format("POST", nil, headers, call_body())
  end
  if mode == "modern" then
    headers["MCP-Protocol-Version"] = "2026-07-28"
    headers["Mcp-Method"] = "tools/call"
    headers["Mcp-Name"] = tool
    return wrk.format("POST", nil, headers, call_body())
  end
  if session == nil then
    return wrk.format("POST", nil, headers, init_body)
  end
  headers["Mcp-Session-Id"] = session
  headers["MCP-Protocol-Version"] = protocol
  return wrk.format("POST", nil, headers, call_body())
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if status == 404 and mode == "session" then
      session = nil -- the session expired or was evicted: start another one
    end
    return
  end
  if mode == "get" then
    return
  end
  -- Plain searches first (the cheap ones): the driver's cost per response
  -- grows with the body, and a 2026-07-28 body is twice a legacy one.
  local result_at = string.find(body, '"result"', 1, true)
  local error_at = string.find(body, '"error"', 1, true)
  if error_at ~= nil and (result_at == nil or error_at < result_at) then
    rpc_errors = rpc_errors + 1
  elseif string.find(body, '"isError"', 1, true) and string.find(body, '"isError"%s*:%s*true') then
    tool_errors = tool_errors + 1
  elseif result_at == nil then
    no_result = no_result + 1
  end
  if mode == "session" and session == nil then
    for name, value in pairs(headers) do
      if string.lower(name) == "mcp-session-id" then
        session = value
      end
    end
  end
end

function done(summary, latency, requests)
  local counts = { non2xx = 0, rpc_errors = 0, tool_errors = 0, no_result = 0 }
  for _, t in ipairs(threads) do
    for name, _ in pairs(counts) do
      counts[name] = counts[name] + (t:get(name) or 0)
    end
  end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  local total = counts.non2xx + counts.rpc_errors + counts.tool_errors + counts.no_result + socket
  io.write(string.format("mcp_errors %d\n", total))
  io.write(string.format("mcp_non2xx %d\nmcp_rpc_errors %d\nmcp_tool_errors %d\nmcp_no_result %d\n",
    counts.non2xx, counts.rpc_errors, counts.tool_errors, counts.no_result))
  io.write(string.format("socket_errors %d (connect %d, read %d, write %d, timeout %d)\n",
    socket, e.connect, e.read, e.write, e.timeout))
  io.write(string.format("requests %d\nduration_us %d\n", summary.requests, summary.duration))
  io.write(string.format("latency_p50_us %d\nlatency_p99_us %d\n",
    latency:percentile(50), latency:percentile(99)))
  io.stdout:flush()
  if total > 0 then
    io.stderr:write(string.format("mcp_echo.lua: %d errors\n", total))
    os.exit(1)
  end
end

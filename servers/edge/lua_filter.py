"""The edge's Lua filters (Envoy's Lua filter), for what no built-in filter does:

* **x-request-id**: a client's id is kept only if it is 1-128 of ``[A-Za-z0-9._:-]`` (the rule the
  servers apply, servers.platform.interceptors), else replaced; the response header, the error
  body, the access log and the servers then all carry the same id.
* **Errors made by Envoy itself** (JWT, body limit, unknown route, a contract-only service, ...):
  the local-reply mappers (servers.edge.local_replies) mark them with ``x-aether-error-reason``;
  here a native gRPC reply gets ``grpc-status-details-bin``, the google.rpc.Status with ErrorInfo
  (reason, the platform's ERROR_DOMAIN) and RequestInfo that a server would have sent, and for
  UNAVAILABLE (no healthy upstream, a server killed mid-request) the RetryInfo of a server's outage.
* **REST statuses a server overrides** (servers.platform.errors.HTTP_STATUSES, e.g. 409 for a
  FAILED_PRECONDITION that is a resource-state conflict): the server's ``x-aether-http-status``
  trailer, a header of the transcoded reply, replaces ``:status`` of a non-gRPC response and is
  dropped from every response.
* **Security headers** on every response: ``X-Content-Type-Options: nosniff``, and
  ``Cache-Control: no-store`` unless the server set a Cache-Control (responses carry tokens and
  per-user data; the JWKS says it may be cached).

It is first in the chain so that every local reply of a later filter passes its response side.
A second one, next to the router, makes REST headers of a unary reply's X-RateLimit-* trailers
(``TRAILER_HEADERS_FILTER``).
"""

from __future__ import annotations

import warnings

from servers.platform.errors import ERROR_DOMAIN, HTTP_STATUS_HEADER, OUTAGE_RETRY_SECONDS

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.core.v3 import DataSource
    from envoy_data_plane.envoy.extensions.filters.http.lua.v3 import Lua, LuaPerRoute

LUA_FILTER = "envoy.filters.http.lua"
ERROR_REASON_HEADER = "x-aether-error-reason"

_SOURCE = r"""
-- One seed per Lua state (per Envoy worker): the clock and this state's own table address.
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 2147483647)

local function fresh_id()
  local hex = "0123456789abcdef"
  local out = {}
  for i = 1, 32 do
    local n = math.random(1, 16)
    if i == 13 then n = 5 end                       -- version 4
    if i == 17 then n = 9 + (n % 4) end             -- variant 10xx
    out[#out + 1] = hex:sub(n, n)
    if i == 8 or i == 12 or i == 16 or i == 20 then out[#out + 1] = "-" end
  end
  return table.concat(out)
end

local function valid_id(id)
  return id ~= nil and #id >= 1 and #id <= 128 and not id:find("[^%w%._:%-]")
end

function envoy_on_request(handle)
  local headers = handle:headers()
  if not valid_id(headers:get("x-request-id")) then
    headers:replace("x-request-id", fresh_id())
  end
  handle:streamInfo():dynamicMetadata():set("aether.edge", "request_id", headers:get("x-request-id"))
end

-- protobuf wire format: just what google.rpc.Status with two details needs
local function varint(n)
  local out = {}
  repeat
    local byte = n % 128
    n = math.floor(n / 128)
    if n > 0 then byte = byte + 128 end
    out[#out + 1] = string.char(byte)
  until n == 0
  return table.concat(out)
end

local function bytes_field(number, value)
  return string.char(number * 8 + 2) .. varint(#value) .. value
end

local function any(type_name, value)
  return bytes_field(1, "type.googleapis.com/" .. type_name) .. bytes_field(2, value)
end

local function unpercent(text)
  return (text:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local http_status = headers:get("__HTTP_STATUS_HEADER__")
  if http_status ~= nil then
    headers:remove("__HTTP_STATUS_HEADER__")
    local content_type = headers:get("content-type") or ""
    if content_type:sub(1, 16) ~= "application/grpc" and http_status:match("^[45]%d%d$") then
      headers:replace(":status", http_status)
    end
  end
  local reason = headers:get("__REASON_HEADER__")
  if reason ~= nil then
    headers:remove("__REASON_HEADER__")
    local code = tonumber(headers:get("grpc-status") or "")
    if code ~= nil and code ~= 0 and headers:get("grpc-status-details-bin") == nil then
      local meta = handle:streamInfo():dynamicMetadata():get("aether.edge") or {}
      local status = string.char(8) .. varint(code)
        .. bytes_field(2, unpercent(headers:get("grpc-message") or ""))
        .. bytes_field(3, any("google.rpc.ErrorInfo", bytes_field(1, reason) .. bytes_field(2, "__DOMAIN__")))
        .. bytes_field(3, any("google.rpc.RequestInfo", bytes_field(1, meta["request_id"] or "")))
      if code == 14 then  -- RetryInfo{retry_delay: Duration{seconds}}, as a server's outage says
        local delay = bytes_field(1, string.char(8) .. varint(__RETRY_SECONDS__))
        status = status .. bytes_field(3, any("google.rpc.RetryInfo", delay))
      end
      headers:add("grpc-status-details-bin", (handle:base64Escape(status):gsub("=", "")))
    end
  end
  headers:replace("x-content-type-options", "nosniff")
  if headers:get("cache-control") == nil then
    headers:add("cache-control", "no-store")
  end
end
"""


TRAILER_HEADERS_FILTER = "aether.edge.trailer_headers"
"""A second Lua filter, next to the router (it sees the server's gRPC reply before the
transcoder does), enabled only on the REST routes of unary RPCs (routes.py)."""

# The servers send a unary reply's X-RateLimit-* in its trailers: headers sent ahead of the
# message are a grpc batch of their own (about a tenth of a small RPC's server CPU). The
# transcoder makes HTTP headers of grpc-status and grpc-message only, so the rate-limit
# trailers are made headers here; a unary reply is small and the transcoder buffers it anyway.
TRAILER_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")

_TRAILER_HEADERS_SOURCE = (
    """
local names = {__NAMES__}

function envoy_on_response(handle)
  handle:body()  -- holds the headers until the reply's end, where the trailers are
  local trailers = handle:trailers()
  if trailers == nil then return end
  local headers = handle:headers()
  for _, name in ipairs(names) do
    local value = trailers:get(name)
    if value ~= nil then
      headers:replace(name, value)
      trailers:remove(name)
    end
  end
end
"""
).replace("__NAMES__", ", ".join(f'"{name}"' for name in TRAILER_HEADERS))


_TRAILER_HEADERS_CODE = "trailer_headers"


def trailer_headers_filter_config() -> Lua:
    return Lua(source_codes={_TRAILER_HEADERS_CODE: DataSource(inline_string=_TRAILER_HEADERS_SOURCE)})


def trailer_headers_route_config() -> LuaPerRoute:
    """What enables the (default-off) filter on a route."""
    return LuaPerRoute(name=_TRAILER_HEADERS_CODE)


def lua_filter_config() -> Lua:
    source = (
        _SOURCE.replace("__REASON_HEADER__", ERROR_REASON_HEADER)
        .replace("__HTTP_STATUS_HEADER__", HTTP_STATUS_HEADER)
        .replace("__DOMAIN__", ERROR_DOMAIN)
        .replace("__RETRY_SECONDS__", str(round(OUTAGE_RETRY_SECONDS)))
    )
    return Lua(default_source_code=DataSource(inline_string=source))

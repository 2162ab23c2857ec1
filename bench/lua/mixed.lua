-- wrk script for bench/mixed-load: one connection mix, writes or reads, counting answers
-- by status class. Arguments after `--`: MODE (write|read) WEBHOOK_PATH LEADS CONTACTS.
--
-- Writes: binding calls (add with random IS_PRIMARY, delete, items.set, items.delete),
-- lead updates and new leads. Reads: crm.lead.get, items.get, crm.lead.list.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  hook = args[2]
  leads = tonumber(args[3])
  contacts = tonumber(args[4])
  ok, client_errors, server_errors, other = 0, 0, 0, 0
  math.randomseed(os.time() * 100 + id)
end

local headers = { ["Content-Type"] = "application/json" }

local function post(method, body)
  return wrk.format("POST", hook .. method, headers, body)
end

local function lead() return math.random(1, leads) end
local function contact() return math.random(1, contacts) end

local function write_request()
  local r = math.random(1, 100)
  if r <= 40 then
    local primary = (math.random(1, 2) == 1) and "Y" or "N"
    return post("crm.lead.contact.add", string.format(
      '{"id":%d,"fields":{"CONTACT_ID":%d,"IS_PRIMARY":"%s"}}', lead(), contact(), primary))
  elseif r <= 60 then
    return post("crm.lead.contact.delete", string.format(
      '{"id":%d,"fields":{"CONTACT_ID":%d}}', lead(), contact()))
  elseif r <= 75 then
    return post("crm.lead.contact.items.set", string.format(
      '{"id":%d,"items":[{"CONTACT_ID":%d},{"CONTACT_ID":%d,"IS_PRIMARY":"Y"},{"CONTACT_ID":%d}]}',
      lead(), contact(), contact(), contact()))
  elseif r <= 80 then
    return post("crm.lead.contact.items.delete", string.format('{"id":%d}', lead()))
  elseif r <= 95 then
    return post("crm.lead.update", string.format(
      '{"id":%d,"fields":{"COMMENTS":"load %d","OPPORTUNITY":%d}}', lead(), r, r))
  else
    return post("crm.lead.add", '{"fields":{"TITLE":"Load lead","PHONE":[{"VALUE":"+1 555 0100"}]}}')
  end
end

local function read_request()
  local r = math.random(1, 100)
  if r <= 40 then
    return post("crm.lead.get", string.format('{"id":%d}', lead()))
  elseif r <= 80 then
    return post("crm.lead.contact.items.get", string.format('{"id":%d}', lead()))
  else
    return post("crm.lead.list", string.format(
      '{"filter":{">ID":%d},"order":{"ID":"ASC"},"select":["ID","TITLE","CONTACT_ID"],"start":-1}',
      lead()))
  end
end

function request()
  if mode == "write" then return write_request() end
  return read_request()
end

function response(status, headers, body)
  if status >= 500 then
    server_errors = server_errors + 1
  elseif status >= 400 then
    client_errors = client_errors + 1
  elseif status == 200 then
    ok = ok + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t = { ok = 0, client_errors = 0, server_errors = 0, other = 0 }
  local m = threads[1]:get("mode")
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format(
    "RESULT %s requests=%d ok=%d 4xx=%d 5xx=%d other=%d socket_errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    m, summary.requests, t.ok, t.client_errors, t.server_errors, t.other,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

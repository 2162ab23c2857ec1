-- wrk script for bench/run: one scenario's requests, chosen at random over the prepared data.
-- Arguments after `--`: SCENARIO WEBHOOK_PATH LEADS CONTACTS DEALS [DELAY_MS].
-- With DELAY_MS each connection waits that long before each request, which paces the load
-- below the maximum (bench/run uses it to measure latency at 80 % of a scenario's maximum).
--
--   S0   server.time                                    (the cost of the HTTP stack)
--   S1   crm.lead.contact.add                           (a write on the binding engine)
--   S2   crm.lead.contact.items.get                     (a binding read)
--   S3   crm.lead.get                                   (an entity read)
--   S4   crm.lead.list, filter + order + deep start      (offset paging)
--   S4b  crm.lead.list, ">ID" keyset, start=-1, 2 fields (the documented fast paging)
--   S6   80 % reads (S2, S3, S4b) / 20 % writes (S1, crm.lead.update)
--   S7a  crm.deal.list with a user field selected and filtered
--   S7b  crm.item.list (deals) with a user field selected, keyset paged
--   S9a  crm.lead.list filtered by EMAIL (one lead's address)
--   S9b  crm.lead.list filtered by PHONE (one lead's number as stored)
--   S9c  crm.duplicate.findbycomm, PHONE, written differently from the stored number
--   S9d  crm.lead.list filtered by a substring of TITLE (%TITLE)
--
-- Each thread counts answers by status class; `done` prints one JSON line with the totals so
-- bench/run can refuse a run that answered anything but 200.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  scenario = args[1]
  hook = args[2]
  leads = tonumber(args[3])
  contacts = tonumber(args[4])
  deals = tonumber(args[5])
  local pause = tonumber(args[6] or "0")
  if pause > 0 then
    delay = function() return pause end
  end
  ok, other = 0, 0
  math.randomseed(os.time() * 100 + id)
end

local headers = { ["Content-Type"] = "application/json" }

local function post(method, body)
  return wrk.format("POST", hook .. method, headers, body)
end

local function lead() return math.random(1, leads) end
local function contact() return math.random(1, contacts) end

local function bind()
  return post("crm.lead.contact.add", string.format(
    '{"id":%d,"fields":{"CONTACT_ID":%d}}', lead(), contact()))
end

local function items_get()
  return post("crm.lead.contact.items.get", string.format('{"id":%d}', lead()))
end

local function lead_get()
  return post("crm.lead.get", string.format('{"id":%d}', lead()))
end

local function deep_list()
  -- A page somewhere in the first half of the NEW leads, newest first.
  local start = math.random(0, math.floor(leads / 2 / 50)) * 50
  return post("crm.lead.list", string.format(
    '{"filter":{"STATUS_ID":"NEW"},"order":{"DATE_CREATE":"DESC"},"select":["ID","TITLE","STATUS_ID"],"start":%d}',
    start))
end

local function keyset_list()
  return post("crm.lead.list", string.format(
    '{"filter":{">ID":%d},"order":{"ID":"ASC"},"select":["ID","TITLE"],"start":-1}',
    math.random(0, math.max(leads - 50, 0))))
end

local function lead_update()
  return post("crm.lead.update", string.format(
    '{"id":%d,"fields":{"COMMENTS":"touched %d"}}', lead(), math.random(1, 1000000)))
end

local function deal_list()
  return post("crm.deal.list", string.format(
    '{"filter":{">ID":%d,">=UF_CRM_SCORE":%d},"order":{"ID":"ASC"},"select":["ID","TITLE","STAGE_ID","UF_CRM_SCORE"],"start":-1}',
    math.random(0, math.max(deals - 50, 0)), math.random(0, 50)))
end

local function item_list()
  return post("crm.item.list", string.format(
    '{"entityTypeId":2,"filter":{">id":%d},"order":{"id":"ASC"},"select":["id","title","stageId","ufCrmScore"],"start":-1}',
    math.random(0, math.max(deals - 50, 0))))
end

-- Lead i's phone is +7 (9dd) ddd-dd-dd of 9000000000 + i, as bench/run generates it.
local function lead_digits(i) return string.format("%010d", 9000000000 + i) end

local function email_list()
  return post("crm.lead.list", string.format(
    '{"filter":{"EMAIL":"l%d@ex.org"},"select":["ID","TITLE"]}', lead()))
end

local function phone_list()
  local d = lead_digits(lead())
  return post("crm.lead.list", string.format(
    '{"filter":{"PHONE":"+7 (%s) %s-%s-%s"},"select":["ID","TITLE"]}',
    d:sub(1, 3), d:sub(4, 6), d:sub(7, 8), d:sub(9, 10)))
end

local function find_by_comm()
  return post("crm.duplicate.findbycomm", string.format(
    '{"type":"PHONE","values":["8 %s"]}', lead_digits(lead())))
end

local function substring_list()
  return post("crm.lead.list", string.format(
    '{"filter":{"%%TITLE":"Lead %d"},"select":["ID","TITLE"]}', lead()))
end

local function mixed()
  local r = math.random(1, 100)
  if r <= 30 then return lead_get()
  elseif r <= 55 then return items_get()
  elseif r <= 80 then return keyset_list()
  elseif r <= 92 then return bind()
  else return lead_update() end
end

local pick = {
  S0 = function() return post("server.time", "{}") end,
  S1 = bind,
  S2 = items_get,
  S3 = lead_get,
  S4 = deep_list,
  S4b = keyset_list,
  S6 = mixed,
  S7a = deal_list,
  S7b = item_list,
  S9a = email_list,
  S9b = phone_list,
  S9c = find_by_comm,
  S9d = substring_list,
}

function request()
  return pick[scenario]()
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local o, n = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    n = n + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"ok":%d,"other":%d,' ..
    '"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), o, n,
    e.connect + e.read + e.write + e.timeout))
end

"""fast_bitrix24 against crm-server.

Uses Bitrix(webhook) with its default throttling (request pool 50, 2 requests/s after the
pool, operating-time limiter on) and only turns the progress bar off (verbose=False).
Everything goes through its own calls: call() (which wraps even a single item in a `batch`),
call(..., raw=True) (a direct call), get_all() and get_by_ID(). Plain HTTP is used: the
library has no CA option of its own, and the server accepts webhooks over HTTP.

Deals and companies (run_deal_scenario) use a second Bitrix object, with the same default
throttling, so that the leaky bucket of 50 requests the lead steps used up does not slow them
down to 2 requests per second; they are about 50 requests, mostly batches of 50 commands.

Errors: call() reports a failed command as ErrorInServerResponseException carrying the
batch's result_error (code and description, no HTTP status); raw=True and an outright
rejected batch surface aiohttp's ClientResponseError (HTTP status only: the library opens
its session with raise_for_status=True, so the body is not read).
"""

import json
import os
import sys
import time
import urllib.request
import warnings

import aiohttp
from fast_bitrix24 import Bitrix
from fast_bitrix24.server_response import ErrorInServerResponseException

from common import (DEAL_DEFAULTS, DEAL_NOT_FOUND, DEAL_STAGE_ERROR, ClientError, Reporter,
                    StepFailed, check, check_eq, check_error, check_strings, pick,
                    run_seed_scenario, webhook_from_env, wrong_secret_webhook)

CLIENT = "fast_bitrix24"
BULK_LEADS = 1050          # > 1,000 and not a multiple of 50: the last page is partial
BULK_CONTACTS = 100
BULK_BOUND_LEADS = 100     # each gets two contacts -> 200 bindings in one call()
ONE_LEAD_CONTACTS = 300    # bound to one lead by parallel batches
BULK_DEALS = 300           # every tenth without TITLE ("Deal #<id>")
DEAL_STAGES = ["NEW", "PREPARATION", "EXECUTING", "FINAL_INVOICE"]   # deal i: DEAL_STAGES[i % 4]
DEAL_CONTACTS = 100        # two each bound to 100 deals -> 200 bindings in one call()
BULK_COMPANIES = 50
CATEGORY_DEALS = 60


def batch_error(fn):
    """Run fn; return the first result_error entry of ErrorInServerResponseException."""
    try:
        fn()
    except ErrorInServerResponseException as e:
        errors = e.args[0] if e.args else None
        check(isinstance(errors, dict) and len(errors) == 1,
              f"expected one result_error entry, got {errors!r}")
        entry = next(iter(errors.values()))
        return ClientError("ErrorInServerResponseException", code=entry.get("error"),
                           description=entry.get("error_description"))
    raise StepFailed("call() succeeded; ErrorInServerResponseException was expected")


def http_error(fn):
    try:
        fn()
    except aiohttp.ClientResponseError as e:
        return ClientError("aiohttp.ClientResponseError", status=e.status)
    raise StepFailed("the call succeeded; aiohttp.ClientResponseError was expected")


class Adapter:
    def __init__(self, hook):
        self.hook = hook
        self.b = Bitrix(hook, verbose=False)

    def lead_add(self, fields):
        return self.b.call("crm.lead.add", {"fields": fields})

    def contact_add(self, fields):
        return self.b.call("crm.contact.add", {"fields": fields})

    def lead_get(self, lead):
        # call() would return {"order0000000000": {...}} for a single object result (the
        # library only unwraps one-key dicts and lists); get_by_ID() is its way to get items.
        return self.b.get_by_ID("crm.lead.get", [lead])

    def bind_add(self, lead, fields):
        return self.b.call("crm.lead.contact.add", {"id": lead, "fields": fields})

    def bind_delete(self, lead, fields):
        return self.b.call("crm.lead.contact.delete", {"id": lead, "fields": fields})

    def items_get(self, lead):
        # call() with a single item returns element [0] of a list result, so a one-row
        # binding list would come back as a bare object: use the direct call for lists.
        response = self.b.call("crm.lead.contact.items.get", {"id": lead}, raw=True)
        check(isinstance(response, dict) and "time" in response,
              f"raw response without time: {response!r}")
        return response.get("result")

    def items_set(self, lead, items):
        return self.b.call("crm.lead.contact.items.set", {"id": lead, "items": items})

    def items_delete(self, lead):
        return self.b.call("crm.lead.contact.items.delete", {"id": lead})

    def error(self, case, lead, contact):
        b = self.b
        if case in ("bad id", "missing lead", "unknown method"):
            method, params = {
                "bad id": ("crm.lead.contact.add", {"id": 0, "fields": {"CONTACT_ID": contact}}),
                "missing lead": ("crm.lead.contact.add",
                                 {"id": 999999, "fields": {"CONTACT_ID": contact}}),
                "unknown method": ("crm.lead.contact.frobnicate", {"id": lead}),
            }[case]
            # call(): inside a batch -> result_error; raw=True: a direct call -> HTTP status.
            in_batch = check_error(batch_error(lambda: b.call(method, params)), case)
            direct = check_error(http_error(lambda: b.call(method, params, raw=True)), case)
            return f"call(): {in_batch}; call(raw=True): {direct}"
        if case == "wrong secret":
            bad = Bitrix(wrong_secret_webhook(self.hook), verbose=False)
            err = http_error(lambda: bad.call("crm.lead.contact.items.get", {"id": lead}))
            return "call(): " + check_error(err, case)
        raise AssertionError(case)


def deal_title(i):
    return None if i % 10 == 0 else f"fb24 deal {i:03}"


def run_deal_scenario(rep, hook):
    """Deals, their contacts, companies and a deal category through call(), get_all() and
    get_by_ID(), on a Bitrix object of their own (a fresh request pool)."""
    b = Bitrix(hook, verbose=False)
    st = {}

    def bulk_add():
        items = []
        for i in range(BULK_DEALS):
            fields = {"OPPORTUNITY": i, "STAGE_ID": DEAL_STAGES[i % 4]}
            if deal_title(i):
                fields["TITLE"] = deal_title(i)
            items.append({"fields": fields})
        t = time.monotonic()
        ids = b.call("crm.deal.add", items)
        check(isinstance(ids, tuple) and len(ids) == BULK_DEALS,
              f"expected {BULK_DEALS} results, got {type(ids).__name__} of {len(ids)}")
        check(all(type(i) is int and i > 0 for i in ids), "a result is not a positive integer id")
        check_eq(len(set(ids)), BULK_DEALS, "distinct ids")
        st["ids"] = set(ids)
        return f"{BULK_DEALS} deals in {-(-BULK_DEALS // 50)} batches, {time.monotonic() - t:.1f} s"

    def get_all():
        check(st.get("ids"), "no bulk deals")
        t = time.monotonic()
        rows = b.get_all("crm.deal.list", params={
            "select": ["ID", "TITLE", "OPPORTUNITY", "STAGE_ID", "CATEGORY_ID"]})
        took = time.monotonic() - t
        ids = [int(r["ID"]) for r in rows]
        check_eq(len(ids) - len(set(ids)), 0, "deals returned more than once")
        check_eq(set(ids), st["ids"], "the deals on the server")
        index = {}
        for r in rows:
            i = int(r["OPPORTUNITY"].split(".")[0])   # the deal's number, see bulk_add
            index[int(r["ID"])] = i
            check_eq(r, {"ID": r["ID"], "TITLE": deal_title(i) or f"Deal #{r['ID']}",
                         "OPPORTUNITY": f"{i}.00", "STAGE_ID": DEAL_STAGES[i % 4],
                         "CATEGORY_ID": "0"}, f"deal {r['ID']}")
        check_eq(sorted(index.values()), list(range(BULK_DEALS)), "deal numbers")
        st["index"] = index
        st["by_number"] = {i: d for d, i in index.items()}
        return f"{len(rows)} deals, each exactly once, {took:.1f} s"

    def get_all_filtered():
        check(st.get("index"), "no deal list")
        rows = b.get_all("crm.deal.list", params={
            "select": ["ID"], "filter": {"STAGE_ID": "PREPARATION", ">=OPPORTUNITY": 200}})
        ids = sorted(int(r["ID"]) for r in rows)
        expected = sorted(d for d, i in st["index"].items() if i >= 200 and i % 4 == 1)
        check_eq(ids, expected, "ids of PREPARATION deals with OPPORTUNITY >= 200")
        return f"{len(ids)} rows"

    def get_by_id():
        index = st.get("index")
        check(index, "no deal list")
        t = time.monotonic()
        got = b.get_by_ID("crm.deal.get", sorted(index))
        took = time.monotonic() - t
        check(isinstance(got, dict) and len(got) == len(index),
              f"get_by_ID returned {type(got).__name__} of {len(got)}")
        defaults = {k: v for k, v in DEAL_DEFAULTS.items() if k not in ("STAGE_ID", "IS_NEW",
                                                                       "OPPORTUNITY")}
        for deal, i in index.items():
            row = got.get(str(deal))
            check_strings(row, f"crm.deal.get {deal}")
            check_eq(pick(row, ["ID", "TITLE", "STAGE_ID", "IS_NEW", "OPPORTUNITY"]),
                     {"ID": str(deal), "TITLE": deal_title(i) or f"Deal #{deal}",
                      "STAGE_ID": DEAL_STAGES[i % 4], "IS_NEW": "Y" if i % 4 == 0 else "N",
                      "OPPORTUNITY": f"{i}.00"}, f"deal {deal}")
            check_eq(pick(row, defaults), defaults, f"deal {deal} defaults")
        return f"{len(got)} deals, {took:.1f} s"

    def close_deals():
        n = st.get("by_number")
        check(n, "no deal list")
        won, lost = [n[i] for i in range(0, 50)], [n[i] for i in range(50, 100)]
        results = b.call("crm.deal.update",
                         [{"id": d, "fields": {"STAGE_ID": "WON"}} for d in won]
                         + [{"id": d, "fields": {"STAGE_ID": "LOSE"}} for d in lost])
        check(isinstance(results, tuple) and len(results) == 100
              and all(r is True for r in results),
              f"crm.deal.update results: {set(map(repr, results))}")
        got = b.get_by_ID("crm.deal.get", won + lost)
        for ids, stage, semantic in ((won, "WON", "S"), (lost, "LOSE", "F")):
            for d in ids:
                check_eq(pick(got.get(str(d)),
                              ["STAGE_ID", "STAGE_SEMANTIC_ID", "CLOSED", "IS_NEW"]),
                         {"STAGE_ID": stage, "STAGE_SEMANTIC_ID": semantic, "CLOSED": "Y",
                          "IS_NEW": "N"}, f"deal {d}")
        return "50 WON (S), 50 LOSE (F), all CLOSED Y"

    def unknown_stage():
        n = st.get("by_number")
        check(n, "no deal list")
        deal = n[151]
        params = {"id": deal, "fields": {"STAGE_ID": "NO_SUCH_STAGE", "TITLE": "not written"}}
        err = batch_error(lambda: b.call("crm.deal.update", params))
        check_eq([err.code, err.description], ["", DEAL_STAGE_ERROR], "call(): result_error")
        direct = http_error(lambda: b.call("crm.deal.update", params, raw=True))
        check_eq(direct.status, 400, "call(raw=True): HTTP status")
        err = batch_error(lambda: b.call("crm.deal.add", {"fields": {"STAGE_ID": "NO_SUCH_STAGE"}}))
        check_eq([err.code, err.description], ["", DEAL_STAGE_ERROR], "crm.deal.add: result_error")
        row = b.get_by_ID("crm.deal.get", [deal])
        check_eq(pick(row, ["STAGE_ID", "TITLE"]), {"STAGE_ID": DEAL_STAGES[151 % 4],
                                                     "TITLE": deal_title(151)},
                 "the deal after the refused update")
        return (f"call(): ErrorInServerResponseException ''/{DEAL_STAGE_ERROR!r}; "
                f"call(raw=True): ClientResponseError 400")

    def missing():
        err = batch_error(lambda: b.get_by_ID("crm.deal.get", [999999]))
        check_eq([err.code, err.description], ["", DEAL_NOT_FOUND], "get_by_ID: result_error")
        return f"get_by_ID(): ErrorInServerResponseException ''/{DEAL_NOT_FOUND!r}"

    def bulk_bindings():
        n = st.get("by_number")
        check(n, "no deal list")
        contacts = b.call("crm.contact.add", [{"fields": {"NAME": f"Deal contact {i:03}"}}
                                              for i in range(DEAL_CONTACTS)])
        check(isinstance(contacts, tuple) and len(contacts) == DEAL_CONTACTS,
              f"crm.contact.add results: {contacts!r}")
        # Which contact goes to which deal is ours to choose: results in completion order do
        # not matter here.
        contacts = sorted(contacts)
        st["contacts"] = contacts
        st["bound"] = {}
        items = []
        for k in range(100):   # deals 100..199 (still open); both adds of a deal in one batch
            deal = n[100 + k]
            first, second = contacts[k], contacts[(k + 1) % DEAL_CONTACTS]
            st["bound"][deal] = (first, second)
            items.append({"id": deal, "fields": {"CONTACT_ID": first}})
            items.append({"id": deal, "fields": {"CONTACT_ID": second, "SORT": 30}})
        t = time.monotonic()
        results = b.call("crm.deal.contact.add", items)
        took = time.monotonic() - t
        check(isinstance(results, tuple) and len(results) == len(items)
              and all(r is True for r in results), f"not all true: {set(map(repr, results))}")
        again = b.call("crm.deal.contact.add", items)
        check(len(again) == len(items) and all(r is False for r in again),
              f"repeating the adds should give false everywhere, got {set(map(repr, again))}")
        return f"{len(items)} bindings in one call(), {took:.1f} s; repeated: all false"

    def bindings_check():
        bound = st.get("bound")
        check(bound, "no deal bindings")
        got = b.get_by_ID("crm.deal.contact.items.get", list(bound))
        check(isinstance(got, dict) and len(got) == len(bound), f"get_by_ID returned {len(got)}")
        for deal, (first, second) in bound.items():
            check_eq(got.get(str(deal)),
                     [{"CONTACT_ID": first, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
                      {"CONTACT_ID": second, "SORT": 30, "ROLE_ID": 0, "IS_PRIMARY": "N"}],
                     f"deal {deal} items.get")
        rows = b.get_all("crm.deal.list", params={"select": ["ID", "CONTACT_ID"],
                                                  "filter": {"@ID": list(bound)}})
        check_eq(len(rows), len(bound), "crm.deal.list filter @ID row count")
        for r in rows:
            check_eq(r["CONTACT_ID"], str(bound[int(r["ID"])][0]), f"deal {r['ID']} CONTACT_ID")
        return f"{len(bound)} deals: items.get via get_by_ID and CONTACT_ID via get_all"

    def companies():
        items = []
        for i in range(BULK_COMPANIES):
            fields = {"PHONE": [{"VALUE": f"+1 555 {i:04}", "VALUE_TYPE": "WORK"}]}
            if i % 5:
                fields["TITLE"] = f"fb24 company {i:02}"
            items.append({"fields": fields})
        ids = b.call("crm.company.add", items)
        check(isinstance(ids, tuple) and len(ids) == BULK_COMPANIES
              and all(type(i) is int for i in ids), f"crm.company.add results: {ids!r}")
        rows = b.get_all("crm.company.list", params={"select": ["ID", "TITLE"]})
        check_eq(sorted(int(r["ID"]) for r in rows), sorted(ids), "get_all('crm.company.list') ids")
        got = b.get_by_ID("crm.company.get", sorted(ids))
        check_eq(len(got), BULK_COMPANIES, "get_by_ID('crm.company.get') count")
        number = {}
        for c in ids:
            row = got.get(str(c))
            check_strings(row, f"crm.company.get {c}")
            phones = row.get("PHONE") or []
            check(len(phones) == 1, f"company {c} PHONE: {phones!r}")
            i = int(phones[0]["VALUE"][-4:])
            number[c] = i
            check_eq(row.get("TITLE"), f"fb24 company {i:02}" if i % 5 else f"Company #{c}",
                     f"company {c} TITLE")
            check_eq(pick(row, ["HAS_PHONE", "HAS_EMAIL"]), {"HAS_PHONE": "Y", "HAS_EMAIL": "N"},
                     f"company {c} HAS_PHONE/HAS_EMAIL")
        titles = {int(r["ID"]): r["TITLE"] for r in rows}
        check_eq(titles, {c: got[str(c)]["TITLE"] for c in ids}, "list titles")
        st["companies"] = [c for c, _ in sorted(number.items(), key=lambda kv: kv[1])]
        return f"{BULK_COMPANIES} companies: call(), get_all(), get_by_ID()"

    def company_contacts():
        cos, contacts, n = st.get("companies"), st.get("contacts"), st.get("by_number")
        check(cos and contacts and n, "no companies, contacts or deals from earlier steps")
        pairs = list(zip(cos, contacts))   # company k <- contact k
        results = b.call("crm.company.contact.add",
                         [{"id": co, "fields": {"CONTACT_ID": k}} for co, k in pairs])
        check(len(results) == len(pairs) and all(r is True for r in results),
              f"crm.company.contact.add results: {set(map(repr, results))}")
        got = b.get_by_ID("crm.company.contact.items.get", cos)
        for co, k in pairs:
            check_eq(got.get(str(co)),
                     [{"CONTACT_ID": k, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}],
                     f"company {co} crm.company.contact.items.get")
        back = b.get_by_ID("crm.contact.company.items.get", [k for _, k in pairs])
        for co, k in pairs:
            check_eq(back.get(str(k)),
                     [{"COMPANY_ID": co, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}],
                     f"contact {k} crm.contact.company.items.get")
        rows = b.get_all("crm.contact.list", params={"select": ["ID", "COMPANY_ID"],
                                                     "filter": {"@ID": [k for _, k in pairs]}})
        check_eq({int(r["ID"]): r["COMPANY_ID"] for r in rows}, {k: str(co) for co, k in pairs},
                 "the contacts' COMPANY_ID")
        # Deals 200..249 get a company each.
        deals = {n[200 + j]: co for j, co in enumerate(cos)}
        results = b.call("crm.deal.update", [{"id": d, "fields": {"COMPANY_ID": co}}
                                             for d, co in deals.items()])
        check(all(r is True for r in results),
              f"crm.deal.update results: {set(map(repr, results))}")
        rows = b.get_all("crm.deal.list", params={"select": ["ID", "COMPANY_ID"],
                                                  "filter": {">COMPANY_ID": 0}})
        check_eq({int(r["ID"]): r["COMPANY_ID"] for r in rows},
                 {d: str(co) for d, co in deals.items()}, "deals with a company")
        return (f"{len(pairs)} bindings; items.get of both sides via get_by_ID; "
                f"{len(deals)} deals with COMPANY_ID")

    def category():
        # call() unwraps a one-key object: {"category": {...}} comes back as the category.
        cat = b.call("crm.category.add", {"entityTypeId": 2, "fields": {"name": "fb24 pipeline"}})
        check(isinstance(cat, dict) and type(cat.get("id")) is int
              and cat.get("name") == "fb24 pipeline", f"crm.category.add returned {cat!r}")
        cid = cat["id"]
        stages = b.call("crm.dealcategory.stage.list", {"id": cid}, raw=True).get("result")
        check(isinstance(stages, list) and stages and stages[0].get("STATUS_ID") == f"C{cid}:NEW"
              and all(s["STATUS_ID"].startswith(f"C{cid}:") for s in stages),
              f"crm.dealcategory.stage.list: {stages!r}")
        ids = b.call("crm.deal.add", [{"fields": {"TITLE": f"fb24 pipeline deal {i}",
                                                  "CATEGORY_ID": cid}}
                                      for i in range(CATEGORY_DEALS)])
        check(len(ids) == CATEGORY_DEALS, f"crm.deal.add results: {ids!r}")
        rows = b.get_all("crm.deal.list", params={"select": ["ID", "STAGE_ID", "CATEGORY_ID"],
                                                  "filter": {"CATEGORY_ID": cid}})
        check_eq(sorted(int(r["ID"]) for r in rows), sorted(ids), "deals of the category")
        check(all(r["STAGE_ID"] == f"C{cid}:NEW" and r["CATEGORY_ID"] == str(cid) for r in rows),
              f"STAGE_ID/CATEGORY_ID: {set((r['STAGE_ID'], r['CATEGORY_ID']) for r in rows)}")
        return f"category {cid}, {len(stages)} stages, {CATEGORY_DEALS} deals in C{cid}:NEW"

    rep.step(f"call('crm.deal.add', [{BULK_DEALS} items])", bulk_add)
    rep.step("get_all('crm.deal.list') returns every deal exactly once", get_all)
    rep.step("get_all('crm.deal.list') with a filter (STAGE_ID, >=OPPORTUNITY)", get_all_filtered)
    rep.step(f"get_by_ID('crm.deal.get', [{BULK_DEALS} ids]): strings, defaults", get_by_id)
    rep.step("call('crm.deal.update', [100 items]) to WON/LOSE -> STAGE_SEMANTIC_ID S/F, CLOSED Y",
             close_deals)
    rep.step("error: unknown STAGE_ID -> result_error, HTTP 400, nothing written", unknown_stage)
    rep.step("error: missing deal -> get_by_ID raises \"Not found\"", missing)
    rep.step("call('crm.deal.contact.add', [200 items]) -> all true, again -> all false",
             bulk_bindings)
    rep.step("deal bindings: items.get via get_by_ID, deal CONTACT_ID via get_all", bindings_check)
    rep.step(f"companies: call('crm.company.add', [{BULK_COMPANIES} items]), get_all, get_by_ID",
             companies)
    rep.step("call('crm.company.contact.add', [...]): items.get of both sides, COMPANY_ID",
             company_contacts)
    rep.step("crm.category.add: deals in the category start in C<id>:NEW", category)


def control(method, path, body=None):
    """A call to the server's test-double controls (compat/run starts it with --control)."""
    url = f"{os.environ['COMPAT_SERVER_URL']}/_crm/{path}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())


def main():
    warnings.simplefilter("ignore")  # the library warns about its own usage hints
    rep = Reporter(CLIENT)
    a = Adapter(webhook_from_env())
    b = a.b

    seed = run_seed_scenario(rep, a) or {}
    st = {}

    def bulk_add():
        t = time.monotonic()
        items = [{"fields": {"TITLE": f"fb24 bulk {i:04}", "OPPORTUNITY": i}}
                 for i in range(BULK_LEADS)]
        ids = b.call("crm.lead.add", items)
        check(isinstance(ids, tuple) and len(ids) == BULK_LEADS,
              f"expected {BULK_LEADS} results, got {type(ids).__name__} of {len(ids)}")
        check(all(type(i) is int and i > 0 for i in ids), "a result is not a positive integer id")
        check(len(set(ids)) == BULK_LEADS, "duplicate ids among the results")
        st["ids"] = set(ids)
        return f"{BULK_LEADS} leads in {-(-BULK_LEADS // 50)} batches, {time.monotonic() - t:.1f} s"

    def get_all():
        check(st.get("ids"), "no bulk leads")
        t = time.monotonic()
        rows = b.get_all("crm.lead.list", params={"select": ["ID", "TITLE", "OPPORTUNITY"]})
        took = time.monotonic() - t
        ids = [int(r["ID"]) for r in rows]
        dupes = len(ids) - len(set(ids))
        check(dupes == 0, f"{dupes} leads returned more than once")
        expected = st["ids"] | ({seed["lead"]} if seed.get("lead") else set())
        missing = expected - set(ids)
        extra = set(ids) - expected
        check(not missing and not extra,
              f"{len(missing)} leads missing (e.g. {sorted(missing)[:5]}), "
              f"{len(extra)} unexpected (e.g. {sorted(extra)[:5]})")
        bulk = [r for r in rows if int(r["ID"]) in st["ids"]]
        check_eq(sorted(r["TITLE"] for r in bulk),
                 [f"fb24 bulk {i:04}" for i in range(BULK_LEADS)], "titles")
        check(all(r["OPPORTUNITY"] == f"{int(r['TITLE'][-4:])}.00" for r in bulk),
              "OPPORTUNITY does not match the title's number")
        return f"{len(rows)} leads, each exactly once, {took:.1f} s"

    def get_all_filtered():
        check(st.get("ids"), "no bulk leads")
        rows = b.get_all("crm.lead.list", params={
            "select": ["ID"], "filter": {">=OPPORTUNITY": 1000, "%TITLE": "fb24 bulk"}})
        ids = [int(r["ID"]) for r in rows]
        check_eq(len(ids), BULK_LEADS - 1000, "rows with OPPORTUNITY >= 1000")
        check(len(set(ids)) == len(ids), "duplicates")
        return f"{len(ids)} rows"

    def bulk_bindings():
        check(st.get("ids"), "no bulk leads")
        contacts = b.call("crm.contact.add", [
            {"fields": {"NAME": f"Bulk {i:03}", "LAST_NAME": "Contact"}}
            for i in range(BULK_CONTACTS)])
        check(isinstance(contacts, tuple) and len(contacts) == BULK_CONTACTS,
              f"crm.contact.add results: {contacts!r}")
        # Results of call() with a list are not in input order when batches run in parallel:
        # map names back to ids.
        rows = b.get_all("crm.contact.list", params={"select": ["ID", "NAME"],
                                                     "filter": {"%NAME": "Bulk "}})
        by_name = {r["NAME"]: int(r["ID"]) for r in rows}
        check_eq(set(by_name.values()), set(contacts), "contact ids from get_all")
        contact = [by_name[f"Bulk {i:03}"] for i in range(BULK_CONTACTS)]
        leads = sorted(st["ids"])[:BULK_BOUND_LEADS]
        st["bound"] = {}
        items = []
        for k, lead in enumerate(leads):  # the two adds of a lead stay in one batch of 50
            first, second = contact[k % BULK_CONTACTS], contact[(k + 1) % BULK_CONTACTS]
            st["bound"][lead] = (first, second)
            items.append({"id": lead, "fields": {"CONTACT_ID": first}})
            items.append({"id": lead, "fields": {"CONTACT_ID": second}})
        t = time.monotonic()
        results = b.call("crm.lead.contact.add", items)
        took = time.monotonic() - t
        check(isinstance(results, tuple) and len(results) == len(items),
              f"expected {len(items)} results, got {results!r}")
        check(all(r is True for r in results), f"not all true: {set(map(repr, results))}")
        again = b.call("crm.lead.contact.add", items)
        check(len(again) == len(items) and all(r is False for r in again),
              f"repeating the adds should give false everywhere, got {set(map(repr, again))}")
        return f"{len(items)} bindings in one call(), {took:.1f} s; repeated: all false"

    def bulk_check():
        bound = st.get("bound")
        check(bound, "no bulk bindings")
        got = b.get_by_ID("crm.lead.contact.items.get", list(bound))
        check(isinstance(got, dict) and len(got) == len(bound), f"get_by_ID returned {len(got)}")
        for lead, (first, second) in bound.items():
            exp = [{"CONTACT_ID": first, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
                   {"CONTACT_ID": second, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"}]
            check_eq(got.get(str(lead)), exp, f"lead {lead} items.get")
        rows = b.get_all("crm.lead.list", params={"select": ["ID", "CONTACT_ID"],
                                                  "filter": {"@ID": list(bound)}})
        check_eq(len(rows), len(bound), "crm.lead.list filter @ID row count")
        for r in rows:
            check_eq(r["CONTACT_ID"], str(bound[int(r["ID"])][0]), f"lead {r['ID']} CONTACT_ID")
        return f"{len(bound)} leads: items.get via get_by_ID and CONTACT_ID via get_all"

    def one_lead_parallel():
        # call() sends its batches of 50 in parallel: every add targets the same lead, so the
        # server has to serialise them (SORT = previous max + 10, one primary).
        lead = b.call("crm.lead.add", {"fields": {"TITLE": "fb24 one lead, many contacts"}})
        contacts = b.call("crm.contact.add", [{"fields": {"NAME": f"Parallel {i:03}"}}
                                              for i in range(ONE_LEAD_CONTACTS)])
        check(len(contacts) == ONE_LEAD_CONTACTS, f"crm.contact.add gave {len(contacts)} ids")
        results = b.call("crm.lead.contact.add", [{"id": lead, "fields": {"CONTACT_ID": c}}
                                                  for c in contacts])
        check(len(results) == ONE_LEAD_CONTACTS and all(r is True for r in results),
              f"not all true: {set(map(repr, results))}")
        items = b.call("crm.lead.contact.items.get", {"id": lead}, raw=True)["result"]
        check_eq(len(items), ONE_LEAD_CONTACTS, "binding count")
        check_eq(sorted(i["CONTACT_ID"] for i in items), sorted(contacts), "bound contacts")
        check_eq([i["SORT"] for i in items], list(range(10, 10 * ONE_LEAD_CONTACTS + 1, 10)),
                 "SORT values in items.get order")
        primaries = [i["CONTACT_ID"] for i in items if i["IS_PRIMARY"] == "Y"]
        check_eq(primaries, [items[0]["CONTACT_ID"]], "the one primary (the first bound)")
        check_eq(b.get_by_ID("crm.lead.get", [lead]).get("CONTACT_ID"), str(primaries[0]),
                 "crm.lead.get CONTACT_ID")
        return f"{ONE_LEAD_CONTACTS} adds in parallel batches: SORT 10..{10 * ONE_LEAD_CONTACTS}, one primary"

    def get_all_limited():
        # The portal's standard limits and a virtual clock (the server's --control): a new
        # client, as a fresh process would start, must page through without a single 503.
        check(st.get("ids"), "no bulk leads")
        control("PUT", "limits", {"mode": "standard"})
        control("POST", "clock", {"set": "2030-01-02T03:04:05Z"})
        control("DELETE", "journal")
        try:
            t = time.monotonic()
            rows = Bitrix(a.hook, verbose=False).get_all(
                "crm.lead.list", params={"select": ["ID", "TITLE"]})
            took = time.monotonic() - t
        finally:
            control("PUT", "limits", {"mode": "off"})
            control("POST", "clock", {"mode": "real"})
        ids = [int(r["ID"]) for r in rows]
        check(len(ids) == len(set(ids)) and st["ids"] <= set(ids),
              f"{len(ids)} rows, {len(set(ids))} distinct, bulk leads missing: "
              f"{len(st['ids'] - set(ids))}")
        refused = control("GET", "journal?status=503")["calls"]
        check_eq(len(refused), 0, "calls refused by the limits")
        check(took < 10, f"took {took:.1f} s of wall time")
        return f"{len(rows)} leads under standard limits in {took:.1f} s"

    rep.step(f"call('crm.lead.add', [{BULK_LEADS} items])", bulk_add)
    rep.step("get_all('crm.lead.list') returns every lead exactly once", get_all)
    rep.step("get_all under the standard portal limits and a virtual clock, no 503",
             get_all_limited)
    rep.step("get_all with a filter (>=OPPORTUNITY, %TITLE)", get_all_filtered)
    rep.step("call('crm.lead.contact.add', [200 items]) -> all true, again -> all false",
             bulk_bindings)
    rep.step("bulk bindings: primary, SORT and lead CONTACT_ID", bulk_check)
    rep.step(f"{ONE_LEAD_CONTACTS} contacts bound to one lead by parallel batches",
             one_lead_parallel)
    run_deal_scenario(rep, a.hook)
    return rep.summary()


if __name__ == "__main__":
    sys.exit(main())

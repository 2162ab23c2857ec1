"""fast_bitrix24 against crm-server.

Uses Bitrix(webhook) with its default throttling (request pool 50, 2 requests/s after the
pool, operating-time limiter on) and only turns the progress bar off (verbose=False).
Everything goes through its own calls: call() (which wraps even a single item in a `batch`),
call(..., raw=True) (a direct call), get_all() and get_by_ID(). Plain HTTP is used: the
library has no CA option of its own, and the server accepts webhooks over HTTP.

Errors: call() reports a failed command as ErrorInServerResponseException carrying the
batch's result_error (code and description, no HTTP status); raw=True and an outright
rejected batch surface aiohttp's ClientResponseError (HTTP status only: the library opens
its session with raise_for_status=True, so the body is not read).
"""

import sys
import time
import warnings

import aiohttp
from fast_bitrix24 import Bitrix
from fast_bitrix24.server_response import ErrorInServerResponseException

from common import (ClientError, Reporter, StepFailed, check, check_eq, check_error,
                    run_seed_scenario, webhook_from_env, wrong_secret_webhook)

CLIENT = "fast_bitrix24"
BULK_LEADS = 1050          # > 1,000 and not a multiple of 50: the last page is partial
BULK_CONTACTS = 100
BULK_BOUND_LEADS = 100     # each gets two contacts -> 200 bindings in one call()
ONE_LEAD_CONTACTS = 300    # bound to one lead by parallel batches


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

    rep.step(f"call('crm.lead.add', [{BULK_LEADS} items])", bulk_add)
    rep.step("get_all('crm.lead.list') returns every lead exactly once", get_all)
    rep.step("get_all with a filter (>=OPPORTUNITY, %TITLE)", get_all_filtered)
    rep.step("call('crm.lead.contact.add', [200 items]) -> all true, again -> all false",
             bulk_bindings)
    rep.step("bulk bindings: primary, SORT and lead CONTACT_ID", bulk_check)
    rep.step(f"{ONE_LEAD_CONTACTS} contacts bound to one lead by parallel batches",
             one_lead_parallel)
    return rep.summary()


if __name__ == "__main__":
    sys.exit(main())

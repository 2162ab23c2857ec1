"""b24pysdk (official Python SDK) against crm-server.

Uses the SDK's webhook credentials (BitrixWebhook) and client (Client), its CRM service
objects (client.crm.lead, client.crm.contact, client.crm.lead.contact[.items]), its batch
(client.call_batch) and its list helpers (as_list, as_list_fast). Errors are checked through
the SDK's exception classes (BitrixAPIError subclasses and their error/status_code).

The SDK only speaks HTTPS: compat/run starts the server with --tls-self-signed and points
REQUESTS_CA_BUNDLE at the printed certificate.
"""

import sys

from b24pysdk import BitrixWebhook, Client, errors

from common import (ClientError, Reporter, StepFailed, check, check_eq, check_error,
                    run_seed_scenario, split_webhook, webhook_from_env, wrong_secret_webhook)

CLIENT = "b24pysdk"


def make_client(hook):
    scheme, host, user, secret = split_webhook(hook)
    if scheme != "https":
        sys.exit("b24pysdk builds https:// URLs only; start the server with --tls-self-signed")
    token = BitrixWebhook(domain=host, webhook_token=f"{user}/{secret}")
    return token, Client(token)


def sdk_error(fn):
    """Run fn and return the SDK exception it raised, as a ClientError."""
    try:
        fn()
    except errors.BitrixAPIError as e:
        return ClientError(type(e).__name__, code=e.error, status=e.status_code,
                           description=e.error_description)
    raise StepFailed("the call succeeded; an SDK exception was expected")


class Adapter:
    def __init__(self, hook):
        self.hook = hook
        self.token, self.client = make_client(hook)
        self.crm = self.client.crm

    def lead_add(self, fields):
        return self.crm.lead.add(fields).result

    def contact_add(self, fields):
        return self.crm.contact.add(fields).result

    def lead_get(self, lead):
        return self.crm.lead.get(lead).result

    def bind_add(self, lead, fields):
        return self.crm.lead.contact.add(lead, fields).result

    def bind_delete(self, lead, fields):
        return self.crm.lead.contact.delete(lead, fields).result

    def items_get(self, lead):
        request = self.crm.lead.contact.items.get(lead)
        raw = request.result
        # The SDK's own typed view of the same rows (ContactLink schema) must agree.
        values = request.values
        check(len(values) == len(raw), f"SDK parsed {len(values)} ContactLink rows of {len(raw)}")
        for link, row in zip(values, raw):
            check(link.contact_id == row["CONTACT_ID"] and link.sort == row["SORT"]
                  and link.is_primary == (row["IS_PRIMARY"] == "Y"),
                  f"SDK ContactLink {link!r} disagrees with the row {row!r}")
        return raw

    def items_set(self, lead, items):
        return self.crm.lead.contact.items.set(lead, items).result

    def items_delete(self, lead):
        return self.crm.lead.contact.items.delete(lead).result

    def error(self, case, lead, contact):
        if case == "bad id":
            err = sdk_error(lambda: self.crm.lead.contact.add(0, {"CONTACT_ID": contact}).result)
            return check_error(err, case, "BitrixAPIBadRequest")
        if case == "missing lead":
            err = sdk_error(
                lambda: self.crm.lead.contact.add(999999, {"CONTACT_ID": contact}).result)
            return check_error(err, case, "BitrixAPIBadRequest")
        if case == "unknown method":
            # No service object exists for a method that does not exist: generic call.
            err = sdk_error(lambda: self.token.call_method("crm.lead.contact.frobnicate",
                                                           {"id": lead}))
            return "generic call_method: " + check_error(err, case, "BitrixAPINotFound")
        if case == "wrong secret":
            _, bad = make_client(wrong_secret_webhook(self.hook))
            err = sdk_error(lambda: bad.crm.lead.contact.items.get(lead).result)
            return check_error(err, case, "BitrixAPIInvalidCredentials")
        raise AssertionError(case)


def main():
    rep = Reporter(CLIENT)
    a = Adapter(webhook_from_env())
    c = a.client

    def introspection():
        check(isinstance(c.server.time().result, str), "server.time result is not a string")
        profile = c.profile().result
        check_eq(profile.get("ID"), "1", "profile ID")
        check_eq(profile.get("ADMIN"), True, "profile ADMIN")
        check("crm" in c.scope().result, "scope lacks crm")
        check_eq(c.method.get("crm.lead.contact.add").result,
                 {"isExisting": True, "isAvailable": True}, "method.get")

    def binding_fields():
        fields = c.crm.lead.contact.fields().value  # parsed by the SDK into CRMField objects
        check_eq(list(fields), ["SORT", "IS_PRIMARY", "CONTACT_ID"], "crm.lead.contact.fields keys")
        check_eq(fields["CONTACT_ID"].type, "integer", "CONTACT_ID type")
        check_eq(fields["CONTACT_ID"].is_required, True, "CONTACT_ID isRequired")
        check_eq(fields["IS_PRIMARY"].type, "char", "IS_PRIMARY type")

    def schemas():
        # The SDK's typed views: field descriptors (CRMField), the time object
        # (BitrixTimeResponse, dates parsed) and the profile (Profile).
        lead_fields = c.crm.lead.fields().value
        contact_fields = c.crm.contact.fields().value
        check("CONTACT_ID" in lead_fields and "PHONE" in contact_fields, "field lists")
        check_eq(lead_fields["STATUS_ID"].type, "crm_status", "STATUS_ID type")
        check_eq(contact_fields["PHONE"].is_multiple, True, "PHONE isMultiple")
        t = c.server.time().time
        check(t.date_start.tzinfo is not None and t.finish >= t.start,
              f"time object: {t!r}")
        check_eq(c.profile().value.admin, True, "Profile.admin")
        return f"{len(lead_fields)} lead and {len(contact_fields)} contact fields"

    rep.step("server.time, profile, scope, method.get", introspection)
    rep.step("fields, time and profile through the SDK's schemas", schemas)
    rep.step("crm.lead.contact.fields through the SDK's field schema", binding_fields)

    st = run_seed_scenario(rep, a) or {}

    def update_lead():
        lead = st.get("lead")
        check(lead, "no seed lead")
        check_eq(c.crm.lead.update(lead, {"TITLE": "Updated by b24pysdk"}).result, True,
                 "crm.lead.update")
        check_eq(c.crm.lead.get(lead).result.get("TITLE"), "Updated by b24pysdk", "TITLE")

    rep.step("crm.lead.update", update_lead)

    created = {}

    def batch():
        requests = {f"lead{i}": c.crm.lead.add({"TITLE": f"pysdk batch {i}"}) for i in range(40)}
        requests["contact"] = c.crm.contact.add({"NAME": "Batch", "LAST_NAME": "Contact"})
        result = c.call_batch(requests).result
        check(not result.result_error, f"result_error {result.result_error!r}")
        ids = result.result
        check(set(ids) == set(requests), f"result keys {sorted(ids)}")
        check(all(type(v) is int for v in ids.values()), f"ids {ids!r}")
        created["leads"] = {ids[f"lead{i}"]: f"pysdk batch {i}" for i in range(40)}
        created["contact"] = ids["contact"]
        # More than one batch's worth: call_batches splits and sends several batches.
        more = [c.crm.lead.add({"TITLE": f"pysdk batch {i}"}) for i in range(40, 120)]
        many = c.call_batches(more).result
        check(not many.result_error, f"call_batches result_error {many.result_error!r}")
        more_ids = list(many.result.values()) if isinstance(many.result, dict) else list(many.result)
        check_eq(len(more_ids), 80, "call_batches result count")
        check(all(type(v) is int for v in more_ids), f"call_batches ids {more_ids!r}")
        created["leads"].update({v: f"pysdk batch {40 + i}" for i, v in enumerate(more_ids)})
        # A batch mixing a binding add with a failing command, array form, halt off.
        lead0 = ids["lead0"]
        mixed = c.call_batch([
            c.crm.lead.contact.add(lead0, {"CONTACT_ID": ids["contact"]}),
            c.crm.lead.contact.add(999999, {"CONTACT_ID": ids["contact"]}),
            c.crm.lead.contact.items.get(lead0),
        ]).result
        check_eq(mixed.result, {"0": True, "2": [
            {"CONTACT_ID": ids["contact"], "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}]},
            "batch result with a failing middle command")
        check_eq(mixed.result_error, {"1": {"error": "", "error_description": "Not found."}},
                 "batch result_error")
        return "41 adds in one batch, 80 via call_batches; failing middle command in result_error"

    def lists():
        titles = created.get("leads")
        check(titles, "no leads from the batch step")
        flt = {"%TITLE": "pysdk batch"}
        slow = c.crm.lead.list(select=["ID", "TITLE"], filter=flt).as_list().result
        fast = list(c.crm.lead.list(select=["ID", "TITLE"], filter=flt).as_list_fast().result)
        for name, rows in (("as_list", slow), ("as_list_fast", fast)):
            ids = [int(r["ID"]) for r in rows]
            check(len(ids) == len(set(ids)), f"{name}: duplicate ids")
            check_eq(set(ids), set(titles), f"{name}: ids")
            check(all(titles[int(r["ID"])] == r["TITLE"] for r in rows), f"{name}: titles")
        return f"{len(titles)} leads over 50-row pages, each exactly once"

    rep.step("call_batch and call_batches (named and array form, result_error)", batch)
    rep.step("as_list and as_list_fast over a filtered lead list", lists)
    return rep.summary()


if __name__ == "__main__":
    sys.exit(main())

"""b24pysdk (official Python SDK) against crm-server.

Uses the SDK's webhook credentials (BitrixWebhook) and client (Client), its CRM service
objects (client.crm.lead, client.crm.contact, client.crm.lead.contact[.items]), its batch
(client.call_batch) and its list helpers (as_list, as_list_fast). Errors are checked through
the SDK's exception classes (BitrixAPIError subclasses and their error/status_code).

Deals and companies through the same kind of service objects: client.crm.deal (and
.contact[.items]), client.crm.company (and .contact[.items]), client.crm.contact.company.items
and client.crm.category; crm.dealcategory.stage.list has no service object and goes through
the generic call_method.

Then the SDK's OAuth credentials (BitrixToken bound to a BitrixApp) with short-lived token
pairs that the server's own CLI (`crm-server app create`, `app token`) issues: calls succeed,
and after the access token expired the SDK refreshes it by itself (GET /oauth/token/), both
when it knows the expiry and when only the server's 401 expired_token tells it; its
get_app_info (app.info) and its OAuth errors.

The SDK only speaks HTTPS: compat/run starts the server with --tls-self-signed and points
REQUESTS_CA_BUNDLE at the printed certificate.
"""

import sys
import time
from datetime import datetime, timezone

from b24pysdk import BitrixApp, BitrixToken, BitrixWebhook, Client, errors
from b24pysdk.api.requesters import BitrixOAuthRequester
from b24pysdk.errors import oauth as oauth_errors

from common import (DEAL_DEFAULTS, DEAL_NOT_FOUND, DEAL_STAGE_ERROR, ClientError, Reporter,
                    ServerCli, StepFailed, binding, check, check_eq, check_error, check_items,
                    check_strings, pick, run_seed_scenario, split_webhook, webhook_from_env,
                    wrong_secret_webhook)

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


# Short-lived tokens, so that the SDK has to refresh them; the first OAuth step must be done
# before they expire (`expires` is whole seconds, so the SDK may see them expire a second early).
OAUTH_TTL = 3


def point_oauth_requester_at(base):
    """b24pysdk sends token refreshes and app.info to Bitrix24's central OAuth server, whose
    URLs are class attributes of BitrixOAuthRequester (_OAUTH_TOKEN_URL, _APP_INFO_URL) with
    no setting to change them. crm-server is its own OAuth server (GET /oauth/token/, and
    app.info under /rest/), so the harness points both attributes at it. Nothing else of
    the SDK is touched."""
    BitrixOAuthRequester._OAUTH_TOKEN_URL = f"{base}/oauth/token/"
    BitrixOAuthRequester._APP_INFO_URL = f"{base}/rest/app.info/"


class OAuthScenario:
    def __init__(self, hook):
        self.scheme, self.host, _user, _secret = split_webhook(hook)
        self.base = f"{self.scheme}://{self.host}"
        self.app = None
        self.issued = None
        self.knowing = None   # BitrixToken given the token's expires: refreshes before the call
        self.unaware = None   # BitrixToken without expires: refreshes on 401 expired_token
        self.first = {}       # the pairs as `app token` printed them

    def make_token(self, pair, with_expiry):
        # domain is the server's host:port as it is; BitrixToken.from_oauth would take it
        # from client_endpoint's hostname and drop the port.
        return BitrixToken(
            domain=self.host,
            auth_token=pair["access_token"],
            refresh_token=pair["refresh_token"],
            expires=datetime.fromtimestamp(pair["expires"], tz=timezone.utc) if with_expiry else None,
            expires_in=pair["expires_in"],
            bitrix_app=self.bitrix_app(),
        )

    def bitrix_app(self):
        return BitrixApp(client_id=self.app["client_id"], client_secret=self.app["client_secret"])

    def calls(self):
        point_oauth_requester_at(self.base)
        cli = ServerCli()
        self.app = cli.create_app("b24pysdk BitrixToken", "crm,user")
        self.issued = time.monotonic()
        for name, with_expiry in (("knowing", True), ("unaware", False)):
            pair = cli.issue_token(self.app["client_id"], user=1, ttl=OAUTH_TTL)
            self.first[name] = pair
            setattr(self, name, self.make_token(pair, with_expiry))
        for token in (self.knowing, self.unaware):
            c = Client(token)
            check_eq(c.user.current().result.get("ID"), "1", "user.current ID")
        lead = Client(self.knowing).crm.lead.add({"TITLE": "OAuth lead (b24pysdk)"}).result
        check_eq(Client(self.unaware).crm.lead.get(lead).result.get("TITLE"),
                 "OAuth lead (b24pysdk)", "crm.lead.get TITLE")
        check_eq(self.knowing.has_expired, False, "has_expired before expiry")
        check_eq([self.knowing.auth_token, self.unaware.auth_token],
                 [self.first["knowing"]["access_token"], self.first["unaware"]["access_token"]],
                 f"access tokens before expiry (this step took "
                 f"{time.monotonic() - self.issued:.1f} s of the tokens' {OAUTH_TTL} s)")
        return f"client_id {self.app['client_id']}, tokens for {OAUTH_TTL} s"

    def wait_for_expiry(self):
        check(self.issued is not None, "no tokens from the first step")
        until = max(self.issued + OAUTH_TTL + 1.0 - time.monotonic(),
                    max(p["expires"] for p in self.first.values()) + 1.0 - time.time())
        time.sleep(max(until, 0))

    def check_refreshed(self, name):
        token, old = getattr(self, name), self.first[name]
        check(token.auth_token != old["access_token"], "the SDK still holds the expired access token")
        check(token.refresh_token != old["refresh_token"], "the SDK still holds the used refresh token")
        check(token.expires is not None and token.has_expired is False,
              f"expires after the refresh: {token.expires!r}")
        check_eq(token.expires_in, 3600, "expires_in after the refresh")
        check_eq(Client(token).user.current().result.get("ID"), "1",
                 "user.current ID with the refreshed token")
        # The refresh token the SDK exchanged is used up: the SDK's own refresh call says so.
        try:
            token.bitrix_app.refresh_oauth_token(refresh_token=old["refresh_token"])
        except oauth_errors.BitrixOAuthInvalidGrant as e:
            return f"old refresh token: {type(e).__name__} {e.status_code} {e.error}"
        raise StepFailed("refreshing with the used refresh token raised no BitrixOAuthInvalidGrant")

    def refresh_known_expiry(self):
        self.wait_for_expiry()
        check_eq(self.knowing.has_expired, True, "has_expired after the expiry")
        check_eq(Client(self.knowing).profile().result.get("ID"), "1", "profile ID after expiry")
        return self.check_refreshed("knowing")

    def refresh_on_expired_token(self):
        check(self.unaware is not None, "no token from the first step")
        self.wait_for_expiry()
        # What the server answers for that token: the same token without its refresh token
        # (a one-off token to the SDK) cannot be refreshed, so the error surfaces.
        bare = BitrixToken(domain=self.host, auth_token=self.first["unaware"]["access_token"],
                           bitrix_app=self.bitrix_app())
        try:
            bare.call_method("profile")
            raise StepFailed("the expired token was accepted")
        except errors.BitrixAPIExpiredToken as e:
            check_eq([e.status_code, e.error], [401, "expired_token"], "BitrixAPIExpiredToken")
        check_eq(Client(self.unaware).profile().result.get("ID"), "1",
                 "profile ID through the SDK after expiry")
        return self.check_refreshed("unaware")

    def app_info(self):
        check(self.knowing is not None, "no token from the first step")
        info = self.knowing.get_app_info().result   # GET <server>/rest/app.info/?auth=...
        check_eq([info.client_id, info.scope, info.user_id],
                 [self.app["client_id"], ["crm", "user"], 1], "client_id, scope, user_id")
        check_eq([info.install.domain, info.install.client_endpoint, info.install.status.value,
                  info.install.installed, info.install.member_id],
                 [self.host, f"{self.base}/rest/", "L", True, self.first["knowing"]["member_id"]],
                 "install domain, client_endpoint, status, installed, member_id")
        check(info.expires.tzinfo is not None and info.expires > datetime.now(timezone.utc),
              f"expires {info.expires!r} is not ahead")
        return f"B24AppInfoResult client_id {info.client_id}, expires {info.expires.isoformat()}"

    def errors(self):
        shown = []
        unknown = BitrixToken(domain=self.host, auth_token="0" * 64, refresh_token="0" * 64,
                              bitrix_app=self.bitrix_app())
        try:
            Client(unknown).profile().result
            raise StepFailed("an unknown access token was accepted")
        except errors.BitrixAPIInvalidToken as e:
            check_eq([e.status_code, e.error], [401, "invalid_token"], "unknown token")
            shown.append(type(e).__name__)
        check_eq(unknown.auth_token, "0" * 64, "token after invalid_token (no refresh expected)")
        wrong = BitrixApp(client_id=self.app["client_id"], client_secret="0" * 48)
        try:
            wrong.refresh_oauth_token(refresh_token=self.knowing.refresh_token)
            raise StepFailed("a wrong client_secret was accepted")
        except oauth_errors.BitrixOAuthInvalidClient as e:
            check_eq([e.status_code, e.error], [401, "invalid_client"], "wrong client_secret")
            shown.append(type(e).__name__)
        cli = ServerCli()
        narrow_app = cli.create_app("b24pysdk user-only", "user")
        pair = cli.issue_token(narrow_app["client_id"], user=1)
        narrow = BitrixToken(domain=self.host, auth_token=pair["access_token"],
                             bitrix_app=BitrixApp(client_id=narrow_app["client_id"],
                                                  client_secret=narrow_app["client_secret"]))
        try:
            Client(narrow).crm.lead.list().result
            raise StepFailed("crm.lead.list with a user-only token succeeded")
        except errors.BitrixAPIInsufficientScope as e:
            check_eq([e.status_code, e.error], [401, "insufficient_scope"], "user-only token")
            shown.append(type(e).__name__)
        return ", ".join(shown)


DEALS = 120   # created by call_batches, listed over three 50-row pages


def link_rows(request, id_key):
    """items.get rows, checked against the SDK's own typed view of them (ContactLink or
    CompanyLink)."""
    raw = request.result
    values = request.values
    check(len(values) == len(raw), f"SDK parsed {len(values)} link rows of {len(raw)}")
    attr = id_key.lower()
    for link, row in zip(values, raw):
        check(getattr(link, attr) == row[id_key] and link.sort == row["SORT"]
              and link.is_primary == (row["IS_PRIMARY"] == "Y"),
              f"SDK {type(link).__name__} {link!r} disagrees with the row {row!r}")
    return raw


def bad_request(fn, description):
    """fn must raise BitrixAPIBadRequest: HTTP 400, error "", the given description."""
    err = sdk_error(fn)
    check_eq([err.kind, err.status, err.code, err.description],
             ["BitrixAPIBadRequest", 400, "", description],
             "error type, status, error, description")
    return f"{err.kind}, status=400, code='', description={description!r}"


def run_deal_scenario(rep, c, token):
    crm = c.crm
    st = {}

    def defaults():
        fields = crm.deal.fields().value   # parsed by the SDK into CRMField objects
        check_eq(len(fields), 45, "crm.deal.fields count")
        check_eq([fields["STAGE_ID"].type, fields["STAGE_ID"].status_type],
                 ["crm_status", "DEAL_STAGE"], "STAGE_ID type, statusType")
        check_eq(fields["CATEGORY_ID"].is_immutable, True, "CATEGORY_ID isImmutable")
        deal = crm.deal.add({}).result
        check(type(deal) is int and deal > 0, f"crm.deal.add returned {deal!r}, expected an int id")
        got = crm.deal.get(deal).result
        check_strings(got, "crm.deal.get")
        check_eq(got.get("ID"), str(deal), "ID")
        check_eq(got.get("TITLE"), f"Deal #{deal}", "TITLE of a deal added without one")
        check_eq(pick(got, DEAL_DEFAULTS), DEAL_DEFAULTS, "defaults")
        st["deal"] = deal
        return f"deal {deal}"

    def won():
        deal = st.get("deal")
        check(deal, "no deal from the first step")
        check_eq(crm.deal.update(deal, {"STAGE_ID": "WON", "OPPORTUNITY": 2500}).result, True,
                 "crm.deal.update")
        check_eq(pick(crm.deal.get(deal).result,
                      ["STAGE_ID", "STAGE_SEMANTIC_ID", "CLOSED", "IS_NEW", "OPPORTUNITY"]),
                 {"STAGE_ID": "WON", "STAGE_SEMANTIC_ID": "S", "CLOSED": "Y", "IS_NEW": "N",
                  "OPPORTUNITY": "2500.00"}, "crm.deal.get after the move to WON")

    def unknown_stage():
        deal = st.get("deal")
        check(deal, "no deal from the first step")
        shown = bad_request(lambda: crm.deal.update(
            deal, {"STAGE_ID": "NO_SUCH_STAGE", "TITLE": "not written"}).result, DEAL_STAGE_ERROR)
        got = crm.deal.get(deal).result
        check_eq([got.get("STAGE_ID"), got.get("TITLE")], ["WON", f"Deal #{deal}"],
                 "STAGE_ID, TITLE after the refused update")
        before = crm.deal.list(select=["ID"]).response.total
        bad_request(lambda: crm.deal.add(
            {"TITLE": "never added", "STAGE_ID": "NO_SUCH_STAGE"}).result, DEAL_STAGE_ERROR)
        check_eq(crm.deal.list(select=["ID"]).response.total, before,
                 "deal count (total) after the refused add")
        return "update and add: " + shown

    def missing():
        return bad_request(lambda: crm.deal.get(999999).result, DEAL_NOT_FOUND)

    def deal_contacts():
        check_eq(list(crm.deal.contact.fields().value), ["SORT", "IS_PRIMARY", "CONTACT_ID"],
                 "crm.deal.contact.fields keys")
        deal = crm.deal.add({"TITLE": "pysdk deal with contacts"}).result
        k1 = crm.contact.add({"NAME": "Deal", "LAST_NAME": "One"}).result
        k2 = crm.contact.add({"NAME": "Deal", "LAST_NAME": "Two"}).result
        check_eq(crm.deal.contact.add(deal, {"CONTACT_ID": k1}).result, True, "first add")
        check_eq(crm.deal.contact.add(deal, {"CONTACT_ID": k1}).result, False, "the same add again")
        check_eq(crm.deal.contact.add(
            deal, {"CONTACT_ID": k2, "SORT": 50, "IS_PRIMARY": "Y"}).result,
            True, "second add, IS_PRIMARY Y")
        check_items(link_rows(crm.deal.contact.items.get(deal), "CONTACT_ID"),
                    [binding(k1, 10, False), binding(k2, 50, True)], "crm.deal.contact.items.get")
        check_eq(crm.deal.get(deal).result.get("CONTACT_ID"), str(k2), "crm.deal.get CONTACT_ID")
        check_eq(crm.deal.contact.delete(deal, {"CONTACT_ID": k2}).result, True,
                 "crm.deal.contact.delete of the primary")
        check_items(link_rows(crm.deal.contact.items.get(deal), "CONTACT_ID"),
                    [binding(k1, 10, True)], "items.get after the delete")
        check_eq(crm.deal.get(deal).result.get("CONTACT_ID"), str(k1),
                 "CONTACT_ID after the delete")
        st["contacts"] = (k1, k2)
        return f"deal {deal}, contacts {k1} and {k2}"

    def contact_ids():
        k1, k2 = st.get("contacts") or (None, None)
        check(k1, "no contacts from the previous step")
        k3 = crm.contact.add({"NAME": "Deal", "LAST_NAME": "Three"}).result
        deal = crm.deal.add({"TITLE": "pysdk deal CONTACT_IDS", "CONTACT_IDS": [k1, k2, k3]}).result
        check_items(crm.deal.contact.items.get(deal).result,
                    [binding(k1, 10, True), binding(k2, 20, False), binding(k3, 30, False)],
                    "items.get after add with CONTACT_IDS")
        got = crm.deal.get(deal).result
        check_eq(got.get("CONTACT_ID"), str(k1), "crm.deal.get CONTACT_ID")
        check("CONTACT_IDS" not in got, "crm.deal.get shows the write-only CONTACT_IDS")
        new_set = [{"CONTACT_ID": k3, "SORT": 10},
                   {"CONTACT_ID": k2, "SORT": 20, "IS_PRIMARY": "Y"}]
        check_eq(crm.deal.contact.items.set(deal, new_set).result, True,
                 "crm.deal.contact.items.set")
        check_items(crm.deal.contact.items.get(deal).result,
                    [binding(k3, 10, False), binding(k2, 20, True)], "items.get after items.set")
        check_eq(crm.deal.contact.items.delete(deal).result, True, "crm.deal.contact.items.delete")
        check_items(crm.deal.contact.items.get(deal).result, [], "items.get after items.delete")
        check(crm.deal.get(deal).result.get("CONTACT_ID") is None,
              "crm.deal.get CONTACT_ID after items.delete is not null")

    def bulk():
        stages = ["NEW", "PREPARATION", "EXECUTING"]
        requests = [crm.deal.add({"TITLE": f"pysdk deal list {i}", "OPPORTUNITY": i,
                                  "STAGE_ID": stages[i % 3]}) for i in range(DEALS)]
        many = c.call_batches(requests).result
        check(not many.result_error, f"call_batches result_error {many.result_error!r}")
        ids = list(many.result.values()) if isinstance(many.result, dict) else list(many.result)
        check_eq(len(ids), DEALS, "call_batches result count")
        check(all(type(v) is int for v in ids), f"ids {ids!r}")
        check_eq(len(set(ids)), DEALS, "distinct ids")
        st["deals"] = {v: i for i, v in enumerate(ids)}
        return f"{DEALS} crm.deal.add in batches of 50"

    def lists():
        deals = st.get("deals")
        check(deals, "no deals from the previous step")
        select, flt = ["ID", "TITLE", "OPPORTUNITY", "STAGE_ID"], {"%TITLE": "pysdk deal list"}
        first = crm.deal.list(select=select, filter=flt, order={"ID": "ASC"}).response
        check_eq([len(first.result), first.next, first.total], [50, 50, DEALS],
                 "first page: rows, next, total")
        slow = crm.deal.list(select=select, filter=flt).as_list().result
        fast = list(crm.deal.list(select=select, filter=flt).as_list_fast().result)
        stages = ["NEW", "PREPARATION", "EXECUTING"]
        for name, rows in (("as_list", slow), ("as_list_fast", fast)):
            ids = [int(r["ID"]) for r in rows]
            check(len(ids) == len(set(ids)), f"{name}: duplicate ids")
            check_eq(set(ids), set(deals), f"{name}: ids")
            for r in rows:
                i = deals[int(r["ID"])]
                check_eq(pick(r, ["TITLE", "OPPORTUNITY", "STAGE_ID"]),
                         {"TITLE": f"pysdk deal list {i}", "OPPORTUNITY": f"{i}.00",
                          "STAGE_ID": stages[i % 3]}, f"{name}: deal {r['ID']}")
        return f"{DEALS} deals, each exactly once; first page next=50, total={DEALS}"

    def category():
        added = crm.category.add({"name": "pysdk pipeline"}, 2).result
        cat = (added or {}).get("category", {}).get("id")
        check(type(cat) is int and cat > 0, f"crm.category.add returned {added!r}")
        # No service object exists for crm.dealcategory.*: the SDK's generic call.
        stages = token.call_method("crm.dealcategory.stage.list", {"id": cat}).get("result")
        check(isinstance(stages, list) and stages, f"crm.dealcategory.stage.list: {stages!r}")
        check_eq(stages[0].get("STATUS_ID"), f"C{cat}:NEW", "first stage")
        check(all(s["STATUS_ID"].startswith(f"C{cat}:") for s in stages),
              f"stage ids {[s['STATUS_ID'] for s in stages]}")
        deal = crm.deal.add({"TITLE": "pysdk deal in a pipeline", "CATEGORY_ID": cat}).result
        check_eq(pick(crm.deal.get(deal).result, ["CATEGORY_ID", "STAGE_ID", "STAGE_SEMANTIC_ID"]),
                 {"CATEGORY_ID": str(cat), "STAGE_ID": f"C{cat}:NEW", "STAGE_SEMANTIC_ID": "P"},
                 "the deal in the category")
        # A default-pipeline stage is not one of this deal's stages on update.
        bad_request(lambda: crm.deal.update(deal, {"STAGE_ID": "WON"}).result, DEAL_STAGE_ERROR)
        check_eq(crm.deal.update(deal, {"STAGE_ID": f"C{cat}:LOSE"}).result, True,
                 "move to C<id>:LOSE")
        check_eq(pick(crm.deal.get(deal).result, ["STAGE_ID", "STAGE_SEMANTIC_ID", "CLOSED"]),
                 {"STAGE_ID": f"C{cat}:LOSE", "STAGE_SEMANTIC_ID": "F", "CLOSED": "Y"},
                 "after the move")
        return f"category {cat}, {len(stages)} stages (call_method)"

    def company():
        fields = crm.company.fields().value
        check_eq(len(fields), 57, "crm.company.fields count")
        check_eq([fields["PHONE"].type, fields["PHONE"].is_multiple], ["crm_multifield", True],
                 "PHONE descriptor")
        title = "pysdk Company — Ünïcødé & Co."
        co = crm.company.add({
            "TITLE": title,
            "PHONE": [{"VALUE": "+1 555 0199", "VALUE_TYPE": "WORK"}],
            "EMAIL": [{"VALUE": "sales@example.com", "VALUE_TYPE": "WORK"}],
        }).result
        check(type(co) is int and co > 0, f"crm.company.add returned {co!r}")
        got = crm.company.get(co).result
        check_strings(got, "crm.company.get")
        check_eq(pick(got, ["ID", "TITLE", "HAS_PHONE", "HAS_EMAIL"]),
                 {"ID": str(co), "TITLE": title, "HAS_PHONE": "Y", "HAS_EMAIL": "Y"},
                 "crm.company.get")
        check_eq([pick(p, ["VALUE", "VALUE_TYPE", "TYPE_ID"]) for p in got.get("PHONE") or []],
                 [{"VALUE": "+1 555 0199", "VALUE_TYPE": "WORK", "TYPE_ID": "PHONE"}], "PHONE")
        check_eq([pick(p, ["VALUE", "VALUE_TYPE", "TYPE_ID"]) for p in got.get("EMAIL") or []],
                 [{"VALUE": "sales@example.com", "VALUE_TYPE": "WORK", "TYPE_ID": "EMAIL"}],
                 "EMAIL")
        bare = crm.company.add({}).result
        check_eq(crm.company.get(bare).result.get("TITLE"), f"Company #{bare}",
                 "TITLE of a company added without one")
        check_eq(crm.company.update(bare, {"TITLE": "Renamed by pysdk"}).result, True,
                 "crm.company.update")
        rows = crm.company.list(select=["ID", "TITLE"], filter={"@ID": [co, bare]},
                                order={"ID": "ASC"}).result
        check_eq(rows, [{"ID": str(co), "TITLE": title},
                        {"ID": str(bare), "TITLE": "Renamed by pysdk"}], "crm.company.list")
        check_eq(crm.company.delete(bare).result, True, "crm.company.delete")
        err = sdk_error(lambda: crm.company.get(bare).result)
        check_eq([err.kind, err.status], ["BitrixAPIBadRequest", 400],
                 "crm.company.get after delete")
        st["company"] = co
        return f"company {co}; {bare} added, updated, listed, deleted"

    def company_contacts():
        co = st.get("company")
        check(co, "no company from the previous step")
        k = crm.contact.add({"NAME": "Company", "LAST_NAME": "Contact"}).result
        check_eq(crm.company.contact.add(co, {"CONTACT_ID": k}).result, True,
                 "crm.company.contact.add")
        check_items(link_rows(crm.company.contact.items.get(co), "CONTACT_ID"),
                    [binding(k, 10, True)], "crm.company.contact.items.get")
        check_eq(link_rows(crm.contact.company.items.get(k), "COMPANY_ID"),
                 [{"COMPANY_ID": co, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}],
                 "crm.contact.company.items.get")
        check_eq(crm.contact.get(k).result.get("COMPANY_ID"), str(co), "crm.contact.get COMPANY_ID")
        deal = crm.deal.add({"TITLE": "pysdk deal of a company", "COMPANY_ID": co}).result
        check_eq(crm.deal.get(deal).result.get("COMPANY_ID"), str(co), "crm.deal.get COMPANY_ID")
        return f"company {co}, contact {k}, deal {deal}"

    rep.step("client.crm.deal.fields (45, CRMField) and crm.deal.add without fields: defaults, "
             "strings", defaults)
    rep.step("crm.deal.update STAGE_ID WON -> STAGE_SEMANTIC_ID S, CLOSED Y", won)
    rep.step("error: unknown STAGE_ID on update and add -> BitrixAPIBadRequest, nothing written",
             unknown_stage)
    rep.step("error: missing deal -> BitrixAPIBadRequest \"Not found\"", missing)
    rep.step("client.crm.deal.contact: fields, add -> true, again -> false, items.get "
             "(ContactLink), delete", deal_contacts)
    rep.step("crm.deal.add with CONTACT_IDS; crm.deal.contact.items.set/items.delete", contact_ids)
    rep.step(f"call_batches: {DEALS} crm.deal.add", bulk)
    rep.step("crm.deal.list: next/total, as_list and as_list_fast, each deal exactly once", lists)
    rep.step("client.crm.category.add (entityTypeId 2): the deal's stages are C<id>:*; "
             "crm.dealcategory.stage.list", category)
    rep.step("client.crm.company: fields (57), add/get (PHONE, EMAIL), default TITLE, update, "
             "list, delete", company)
    rep.step("crm.company.contact.add -> the contact's COMPANY_ID; items.get from both sides "
             "(ContactLink, CompanyLink)", company_contacts)


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

    run_deal_scenario(rep, c, a.token)

    o = OAuthScenario(a.hook)
    rep.step("BitrixToken + BitrixApp: calls with token pairs from `crm-server app token`",
             o.calls)
    rep.step("token expired, expires known -> the SDK refreshes before the call",
             o.refresh_known_expiry)
    rep.step("token expired, expires unknown -> 401 expired_token, the SDK refreshes and retries",
             o.refresh_on_expired_token)
    rep.step("get_app_info (app.info) through the SDK's schema", o.app_info)
    rep.step("OAuth errors as SDK exceptions: invalid_token (no refresh), invalid_client, "
             "insufficient_scope", o.errors)
    return rep.summary()


if __name__ == "__main__":
    sys.exit(main())

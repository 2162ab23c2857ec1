"""Shared pieces of the Python-driven compatibility clients (standard library only).

- Reporter prints one line per step (`PASS <client>: <step>`, `FAIL <client>: <step>: <detail>`,
  `SKIP <client>: <step>: <reason>`) and the closing `N passed, M failed, K skipped` line.
- run_seed_scenario() runs the seed scenario of crm.lead.contact.* through an adapter that
  wraps one client library, so every client checks the same expectations.
- DEAL_DEFAULTS, DEAL_STAGE_ERROR and check_strings() hold what the deal and company steps
  of the Python clients expect of crm.deal.get and crm.company.get.
- ServerCli runs the server's own command line (`crm-server app create`, `app token`,
  `user add`) against the data dir of the server under test, as an operator would.
"""

import json
import os
import re
import signal
import subprocess
import sys
import traceback

STEP_TIMEOUT = int(os.environ.get("COMPAT_STEP_TIMEOUT", "120"))


class StepFailed(Exception):
    """A check inside a step did not hold; the message is the FAIL detail."""


class StepTimeout(Exception):
    """A step ran longer than STEP_TIMEOUT seconds (a hung client or server)."""


def _on_alarm(_signum, _frame):
    raise StepTimeout(f"no result after {STEP_TIMEOUT} s")


def check(condition, detail):
    if not condition:
        raise StepFailed(detail)


def check_eq(actual, expected, what):
    if actual != expected or type(actual) is not type(expected):
        raise StepFailed(f"{what}: expected {expected!r}, got {actual!r}")


class Reporter:
    def __init__(self, client):
        self.client = client
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def _line(self, text):
        print(text, flush=True)

    def passed_step(self, step, note=None):
        self.passed += 1
        self._line(f"PASS {self.client}: {step}" + (f" ({note})" if note else ""))

    def failed_step(self, step, detail):
        self.failed += 1
        detail = " ".join(str(detail).split())
        self._line(f"FAIL {self.client}: {step}: {detail}")

    def skipped_step(self, step, reason):
        self.skipped += 1
        self._line(f"SKIP {self.client}: {step}: {reason}")

    def step(self, name, fn):
        """Run fn(); PASS if it returns, FAIL with the reason if it raises.

        fn may return a string, shown in brackets after the step name. Returns True on PASS.
        """
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(STEP_TIMEOUT)
        try:
            note = fn()
        except (StepFailed, StepTimeout) as e:
            self.failed_step(name, e)
            return False
        except Exception as e:  # the client raised something unexpected
            if os.environ.get("COMPAT_VERBOSE"):
                traceback.print_exc()
            self.failed_step(name, f"{type(e).__module__}.{type(e).__name__}: {e}")
            return False
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        self.passed_step(name, note if isinstance(note, str) else None)
        return True

    def summary(self):
        self._line(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        return 1 if self.failed else 0


def webhook_from_env():
    hook = os.environ.get("B24_WEBHOOK", "")
    if not hook:
        sys.exit("B24_WEBHOOK is not set (compat/run sets it to the server's webhook URL)")
    return hook


def split_webhook(hook):
    """('https', 'host:port', user_id, secret) from .../rest/<user>/<secret>/"""
    m = re.match(r"^(https?)://([^/]+)/rest/(\d+)/([^/]+)/?$", hook)
    if not m:
        sys.exit(f"unexpected webhook URL shape: {hook!r}")
    return m.group(1), m.group(2), int(m.group(3)), m.group(4)


class ServerCli:
    """`crm-server <command>` on the running server's data dir (SQLite; the CLI may run while
    the server runs). compat/run passes the binary, the data dir and the URL the server
    listens on in COMPAT_SERVER_BIN, COMPAT_DATA_DIR and COMPAT_SERVER_URL; the URL goes to
    --public-url so that the endpoints the CLI prints are the server's real ones."""

    def __init__(self):
        missing = [k for k in ("COMPAT_SERVER_BIN", "COMPAT_DATA_DIR", "COMPAT_SERVER_URL")
                   if not os.environ.get(k)]
        if missing:
            raise StepFailed(f"{', '.join(missing)} not set (compat/run sets them to the "
                             "server's binary, data dir and URL)")
        self.bin = os.environ["COMPAT_SERVER_BIN"]
        self.data_dir = os.environ["COMPAT_DATA_DIR"]
        self.url = os.environ["COMPAT_SERVER_URL"]

    def run(self, *args):
        cmd = [self.bin, "--data-dir", self.data_dir, "--public-url", self.url, "--log", "warn",
               *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise StepFailed(f"crm-server {' '.join(args)}: exit status {p.returncode}: "
                             f"{(p.stderr or p.stdout).strip()[:300]}")
        return p.stdout.strip()

    def run_json(self, *args):
        out = self.run(*args)
        try:
            return json.loads(out)
        except ValueError:
            raise StepFailed(f"crm-server {' '.join(args)} printed no JSON: {out[:300]!r}")

    def create_app(self, name, scope="crm,user", redirect_uri=None):
        """{"client_id", "client_secret"} of a new application."""
        args = ["app", "create", "--name", name, "--scope", scope]
        if redirect_uri:
            args += ["--redirect-uri", redirect_uri]
        app = self.run_json(*args)
        check(isinstance(app, dict) and set(app) == {"client_id", "client_secret"},
              f"app create printed {app!r}, expected client_id and client_secret")
        return app

    def issue_token(self, client_id, user=1, ttl=None):
        """What `app token` prints: the /oauth/token/ answer for a new token pair."""
        args = ["app", "token", "--client-id", client_id, "--user", str(user)]
        if ttl is not None:
            args += ["--ttl", str(ttl)]
        token = self.run_json(*args)
        check(isinstance(token, dict) and token.get("access_token")
              and token.get("refresh_token"), f"app token printed {token!r}")
        return token

    def add_user(self, name, last_name="", admin=False):
        args = ["user", "add", "--name", name, "--last-name", last_name]
        if admin:
            args.append("--admin")
        out = self.run(*args)
        check(out.isdigit(), f"user add printed {out!r}, expected the new id")
        return int(out)


def wrong_secret_webhook(hook):
    scheme, host, user, _secret = split_webhook(hook)
    return f"{scheme}://{host}/rest/{user}/0000wrongsecret0000/"


class ClientError:
    """An error as the client library surfaced it (None = the client does not expose it)."""

    def __init__(self, kind, code=None, status=None, description=None):
        self.kind = kind
        self.code = code
        self.status = status
        self.description = description

    def __repr__(self):
        return (f"{self.kind}(code={self.code!r}, status={self.status!r}, "
                f"description={self.description!r})")


# The seed scenario's error cases: what the server must answer (spec §1.4, §4.6).
EXPECTED_ERRORS = {
    "bad id": dict(status=400, code="",
                   description="The parameter 'ownerEntityID' is invalid or not defined."),
    "missing lead": dict(status=400, code="", description="Not found."),
    "unknown method": dict(status=404, code="ERROR_METHOD_NOT_FOUND",
                           description="Method not found!"),
    "wrong secret": dict(status=401, code="INVALID_CREDENTIALS",
                         description="Invalid request credentials"),
}


def check_error(err, case, expected_kind=None):
    """Compare a ClientError with EXPECTED_ERRORS[case]; fields the client hides are skipped."""
    if err is None:
        raise StepFailed("no error was raised")
    exp = EXPECTED_ERRORS[case]
    problems = []
    if expected_kind and err.kind != expected_kind:
        problems.append(f"error type {err.kind}, expected {expected_kind}")
    for field in ("status", "code", "description"):
        actual = getattr(err, field)
        if actual is not None and actual != exp[field]:
            problems.append(f"{field} {actual!r}, expected {exp[field]!r}")
    if problems:
        raise StepFailed(f"{'; '.join(problems)} (got {err!r})")
    shown = [f for f in ("status", "code", "description") if getattr(err, f) is not None]
    return f"{err.kind}, " + ", ".join(f"{f}={getattr(err, f)!r}" for f in shown)


def binding(contact_id, sort, primary):
    return {"CONTACT_ID": contact_id, "SORT": sort, "ROLE_ID": 0,
            "IS_PRIMARY": "Y" if primary else "N"}


def check_items(items, expected, what="items.get"):
    """items.get must be a list of objects with exactly these keys, in this order, and types."""
    check(isinstance(items, list), f"{what}: expected a list, got {items!r}")
    for row in items:
        check(isinstance(row, dict), f"{what}: row is not an object: {row!r}")
        check(list(row.keys()) == ["CONTACT_ID", "SORT", "ROLE_ID", "IS_PRIMARY"],
              f"{what}: keys {list(row.keys())}, expected CONTACT_ID, SORT, ROLE_ID, IS_PRIMARY")
        for key in ("CONTACT_ID", "SORT", "ROLE_ID"):
            check(type(row[key]) is int, f"{what}: {key} is {row[key]!r}, expected a JSON integer")
        check(row["IS_PRIMARY"] in ("Y", "N"),
              f"{what}: IS_PRIMARY is {row['IS_PRIMARY']!r}, expected 'Y' or 'N'")
    check(items == expected, f"{what}: expected {expected!r}, got {items!r}")


def run_seed_scenario(rep, a):
    """The seed scenario of crm.lead.contact.* through adapter `a`.

    The adapter provides: lead_add(fields), contact_add(fields), lead_get(id),
    bind_add(lead, fields), bind_delete(lead, fields), items_get(lead), items_set(lead, items),
    items_delete(lead), and error(case, lead, contact) -> ClientError for the four error cases
    of EXPECTED_ERRORS. Every method goes through the client library.
    """
    st = {}

    title = f"Seed lead ({rep.client}) — Ünïcødé & 50% + a=b?#[x]"

    def create():
        st["lead"] = a.lead_add({"TITLE": title, "OPPORTUNITY": 1200})
        st["c1"] = a.contact_add({"NAME": "Ada", "LAST_NAME": "Lovelace",
                                  "PHONE": [{"VALUE": "+1 555 0100", "VALUE_TYPE": "WORK"}]})
        st["c2"] = a.contact_add({"NAME": "Grace", "LAST_NAME": "Hopper"})
        for k in ("lead", "c1", "c2"):
            check(type(st[k]) is int and st[k] > 0, f"{k} id {st[k]!r} is not a positive integer")
        got = a.lead_get(st["lead"])
        check_eq(got.get("TITLE"), title, "crm.lead.get TITLE")
        check_eq(got.get("OPPORTUNITY"), "1200.00", "crm.lead.get OPPORTUNITY")
        return f"lead {st['lead']}, contacts {st['c1']} and {st['c2']}"

    if not rep.step("create a lead and two contacts", create):
        rep.failed_step("seed scenario", "cannot continue without a lead and two contacts")
        return
    lead, c1, c2 = st["lead"], st["c1"], st["c2"]

    def add_primary():
        check_eq(a.bind_add(lead, {"CONTACT_ID": c1, "SORT": 10, "IS_PRIMARY": "Y"}), True,
                 "crm.lead.contact.add {CONTACT_ID, SORT: 10, IS_PRIMARY: Y}")

    def add_again():
        check_eq(a.bind_add(lead, {"CONTACT_ID": c1, "SORT": 10, "IS_PRIMARY": "Y"}), False,
                 "the same crm.lead.contact.add again")
        check_items(a.items_get(lead), [binding(c1, 10, True)], "items.get after the repeat")

    def add_second():
        check_eq(a.bind_add(lead, {"CONTACT_ID": c2}), True,
                 "crm.lead.contact.add of the second contact")
        items = a.items_get(lead)
        check(isinstance(items, list) and len(items) == 2, f"expected 2 bindings, got {items!r}")
        check_eq(items[1].get("CONTACT_ID"), c2, "second binding CONTACT_ID")
        check_eq(items[1].get("SORT"), 20, "second binding SORT")
        check_eq(items[1].get("IS_PRIMARY"), "N", "second binding IS_PRIMARY")

    def items_shape():
        check_items(a.items_get(lead), [binding(c1, 10, True), binding(c2, 20, False)])

    def lead_primary():
        got = a.lead_get(lead)
        check(isinstance(got, dict), f"crm.lead.get returned {got!r}")
        check_eq(got.get("CONTACT_ID"), str(c1), "crm.lead.get CONTACT_ID")

    def delete_primary():
        check_eq(a.bind_delete(lead, {"CONTACT_ID": c1}), True, "crm.lead.contact.delete")
        check_items(a.items_get(lead), [binding(c2, 20, True)], "items.get after the delete")
        check_eq(a.lead_get(lead).get("CONTACT_ID"), str(c2), "crm.lead.get CONTACT_ID")

    def items_set():
        ok = a.items_set(lead, [{"CONTACT_ID": c1, "SORT": 10},
                                {"CONTACT_ID": c2, "SORT": 20, "IS_PRIMARY": "Y"}])
        check_eq(ok, True, "crm.lead.contact.items.set")
        check_items(a.items_get(lead), [binding(c1, 10, False), binding(c2, 20, True)],
                    "items.get after items.set")
        check_eq(a.lead_get(lead).get("CONTACT_ID"), str(c2), "crm.lead.get CONTACT_ID")

    def items_delete():
        check_eq(a.items_delete(lead), True, "crm.lead.contact.items.delete")
        check_items(a.items_get(lead), [], "items.get after items.delete")
        got = a.lead_get(lead).get("CONTACT_ID")
        check(got is None, f"crm.lead.get CONTACT_ID after items.delete: expected null, got {got!r}")

    rep.step("add {CONTACT_ID, SORT: 10, IS_PRIMARY: Y} -> true", add_primary)
    rep.step("the same add again -> false, nothing changed", add_again)
    rep.step("second contact without IS_PRIMARY -> non-primary, SORT 20", add_second)
    rep.step("items.get shape and types", items_shape)
    rep.step("crm.lead.get CONTACT_ID is the primary, as a string", lead_primary)
    rep.step("delete of the primary re-elects the other", delete_primary)
    rep.step("items.set replaces the set", items_set)
    rep.step("items.delete -> items.get []", items_delete)
    for case in ("bad id", "missing lead", "unknown method", "wrong secret"):
        rep.step(f"error: {case}", lambda case=case: a.error(case, lead, c1))
    return st


# ---- deals and companies ----

# What crm.deal.get shows for a deal added without fields (besides TITLE "Deal #<id>").
DEAL_DEFAULTS = {
    "STAGE_ID": "NEW", "STAGE_SEMANTIC_ID": "P", "CATEGORY_ID": "0", "CLOSED": "N",
    "IS_NEW": "Y", "OPPORTUNITY": "0.00", "CURRENCY_ID": "USD", "COMPANY_ID": "0",
    "CONTACT_ID": None,
}
# The `error_description` of an unknown STAGE_ID on crm.deal.add/update (HTTP 400, error "").
DEAL_STAGE_ERROR = 'The value of "Deal stage" is incorrect'
# crm.deal.get of a deal that does not exist (no period, unlike "Lead is not found").
DEAL_NOT_FOUND = "Not found"


def pick(row, keys):
    return {k: (row or {}).get(k) for k in keys}


def check_strings(row, what):
    """crm.deal.get / crm.company.get: every scalar is a string or null (lists are
    multi-fields)."""
    check(isinstance(row, dict), f"{what}: {row!r}")
    for k, v in row.items():
        if v is None or isinstance(v, list):
            continue
        check(isinstance(v, str), f"{what}: {k} is {v!r}, expected a string")

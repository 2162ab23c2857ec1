#!/usr/bin/env python3
"""Batch of 50 crm.lead.contact.add calls vs the same 50 calls as single HTTP requests.

Starts the release binary on a free port with a fresh data directory, creates leads and
contacts, then alternates rounds of (a) 50 single POSTs over one keep-alive connection and
(b) one `batch` POST with 50 commands, each round on a fresh lead so every call binds.
Prints per-round medians and the ratio. Usage:

    cargo build --release && python3 bench/batch_vs_single.py [ROUNDS]
"""
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "crm-server")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
CONTACTS = 50


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    data = tempfile.mkdtemp(prefix="crm-bench-")
    proc = subprocess.Popen(
        [BIN, "--data-dir", data, "--listen", f"127.0.0.1:{port}", "--log", "warn"],
        stdout=subprocess.PIPE, text=True)
    try:
        hook = None
        while hook is None:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("server exited")
            m = re.search(r"http://\S+/rest/1/\w+/", line)
            hook = m.group(0) if m else None
        path = hook.split(f":{port}", 1)[1]
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def call(method, params):
            conn.request("POST", path + method, json.dumps(params),
                         {"Content-Type": "application/json"})
            body = json.loads(conn.getresponse().read())
            if "error" in body:
                raise SystemExit(f"{method}: {body}")
            return body["result"]

        for i in range(CONTACTS):
            call("crm.contact.add", {"fields": {"NAME": f"C{i}"}})
        single, batch = [], []
        for _ in range(ROUNDS):
            lead = call("crm.lead.add", {"fields": {}})
            t = time.perf_counter()
            for c in range(1, CONTACTS + 1):
                assert call("crm.lead.contact.add", {"id": lead, "fields": {"CONTACT_ID": c}}) is True
            single.append(time.perf_counter() - t)

            lead = call("crm.lead.add", {"fields": {}})
            cmd = {f"c{c}": f"crm.lead.contact.add?id={lead}&fields[CONTACT_ID]={c}"
                   for c in range(1, CONTACTS + 1)}
            t = time.perf_counter()
            r = call("batch", {"cmd": cmd})
            batch.append(time.perf_counter() - t)
            assert r["result_error"] == [] and all(v is True for v in r["result"].values())
        s, b = statistics.median(single), statistics.median(batch)
        print(f"rounds: {ROUNDS}, {CONTACTS} crm.lead.contact.add calls each")
        print(f"50 single HTTP calls: median {s * 1000:.2f} ms (min {min(single) * 1000:.2f})")
        print(f"one batch of 50:      median {b * 1000:.2f} ms (min {min(batch) * 1000:.2f})")
        print(f"ratio single/batch:   {s / b:.2f}x")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()

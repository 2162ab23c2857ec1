#!/usr/bin/env python3
"""Reset, snapshot and restore of a test double (`--control`) at 10,000 leads.

Starts the release binary on a free port with a fresh data directory (or, with
`--database-url postgres://…`, on that database), loads LEADS leads (fixtures of 500 per
call), takes a snapshot, then times ROUNDS of: a few changes, restore of the snapshot; and
ROUNDS of reset followed by restore (the restore brings the 10,000 leads back each time).
Prints medians of the control calls as a client sees them (HTTP round trip included).
Usage:

    cargo build --release && python3 bench/snapshots.py [ROUNDS] [--database-url URL]
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
args = [a for a in sys.argv[1:] if not a.startswith("--")]
ROUNDS = int(args[0]) if args else 20
LEADS = 10_000
EXTRA = []
if "--database-url" in sys.argv:
    EXTRA = ["--database-url", sys.argv[sys.argv.index("--database-url") + 1]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    data = tempfile.mkdtemp(prefix="crm-bench-")
    proc = subprocess.Popen(
        [BIN, "--data-dir", data, "--listen", f"127.0.0.1:{port}", "--log", "warn",
         "--control", "--admin-webhook-secret", "bench-secret"] + EXTRA,
        stdout=subprocess.PIPE, text=True)
    try:
        while True:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("server exited")
            if line.startswith("crm-server listening on"):
                break
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def request(method, path, body=None):
            conn.request(method, path, None if body is None else json.dumps(body),
                         {"Content-Type": "application/json"})
            res = conn.getresponse()
            answer = json.loads(res.read())
            if res.status != 200:
                raise SystemExit(f"{method} {path}: {res.status} {answer}")
            return answer

        def timed(method, path, body=None):
            t = time.perf_counter()
            request(method, path, body)
            return time.perf_counter() - t

        request("POST", "/_crm/reset", {"all": True})
        t = time.perf_counter()
        for start in range(0, LEADS, 500):
            request("POST", "/_crm/fixtures", {"leads": [
                {"ID": i + 1, "TITLE": f"Lead {i + 1}", "OPPORTUNITY": i}
                for i in range(start, min(start + 500, LEADS))]})
        load = time.perf_counter() - t
        snapshot = timed("POST", "/_crm/snapshots/bench")
        restores, resets = [], []
        for n in range(ROUNDS):
            request("POST", "/rest/1/bench-secret/crm.lead.add", {"fields": {"TITLE": f"x{n}"}})
            request("POST", "/rest/1/bench-secret/crm.lead.delete", {"id": 1 + n})
            restores.append(timed("POST", "/_crm/snapshots/bench/restore"))
            resets.append(timed("POST", "/_crm/reset", {}))
            restores.append(timed("POST", "/_crm/snapshots/bench/restore"))
        total = request("POST", "/rest/1/bench-secret/crm.lead.list", {"start": 0})["total"]
        assert total == LEADS, total
        backend = "PostgreSQL" if EXTRA else "SQLite"
        print(f"{backend}, {LEADS} leads (loaded by fixtures in {load:.1f} s), {ROUNDS} rounds")
        print(f"snapshot:  {snapshot * 1000:.1f} ms")
        print(f"restore:   median {statistics.median(restores) * 1000:.1f} ms "
              f"(min {min(restores) * 1000:.1f}, max {max(restores) * 1000:.1f})")
        print(f"reset:     median {statistics.median(resets) * 1000:.1f} ms "
              f"(min {min(resets) * 1000:.1f}, max {max(resets) * 1000:.1f})")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

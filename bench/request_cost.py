#!/usr/bin/env python3
"""What one hostile request costs: each body goes to a fresh release server, and the
answer, the time to it and the growth of the server's peak memory (VmHWM) are printed,
first for requests without valid credentials, then for the largest trees an
authenticated request can become. Linux only (reads /proc).

Usage: python3 bench/request_cost.py [path to crm-server]   (default:
target/release/crm-server; build it first with `cargo build --release`)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/crm-server"

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEEP_FORM = lambda: "&".join("a" + f"[{i}]" * 63 + "=1" for i in range(10_000))  # noqa: E731

# (name, path, content type, body); "{hook}" is the administrator's webhook path.
CASES = [
    ("webhook, wrong secret", "/rest/1/wrongsecret/crm.lead.add", "application/json",
     lambda: "[" + "0," * 4_000_000 + "0]"),
    ("OAuth route, JSON list of 499,990 zeros", "/rest/crm.lead.add", "application/json",
     lambda: "[" + "0," * 499_990 + "0]"),
    ("OAuth route, JSON object of 249,990 keys", "/rest/crm.lead.add", "application/json",
     lambda: "{" + ",".join(f'"k{i}":0' for i in range(249_990)) + "}"),
    ("OAuth route, JSON [0,0,...] of 8 MB", "/rest/crm.lead.add", "application/json",
     lambda: "[" + "0," * 4_000_000 + "0]"),
    ("OAuth route, form of 10,000 names 63 levels deep", "/rest/crm.lead.add", FORM, DEEP_FORM),
    ("OAuth route, form with one 8 MB value", "/rest/crm.lead.add", FORM,
     lambda: "a=" + "x" * 8_000_000),
    ("authenticated, JSON top-level list of 499,990 zeros", "{hook}server.time", JSON,
     lambda: "[" + "0," * 499_990 + "0]"),
    ("authenticated, JSON {\"x\": list of 499,990 zeros}", "{hook}server.time", JSON,
     lambda: '{"x":[' + "0," * 499_990 + "0]}"),
    ("authenticated, JSON {\"x\": list of 249,990 {}}", "{hook}server.time", JSON,
     lambda: '{"x":[' + "{}," * 249_990 + "{}]}"),
    ("authenticated, form of 10,000 names 63 levels deep", "{hook}server.time", FORM, DEEP_FORM),
]


def peak_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def main():
    print("| Body | Size | Answer | Time | Peak memory growth |")
    print("|---|---|---|---|---|")
    for name, path, ctype, make in CASES:
        body = make().encode()
        with tempfile.TemporaryDirectory() as d:
            server = subprocess.Popen(
                [BIN, "--data-dir", d, "--listen", "127.0.0.1:0", "--log", "warn"],
                stdout=subprocess.PIPE, text=True)
            base = hook = None
            for line in server.stdout:
                if line.startswith("Administrator webhook"):
                    hook = "/rest/" + line.split("/rest/", 1)[1].strip()
                if line.startswith("crm-server listening on "):
                    base = line.split()[-1]
                    break
            try:
                time.sleep(0.2)
                before = peak_kb(server.pid)
                req = urllib.request.Request(base + path.replace("{hook}", hook), data=body,
                                             headers={"Content-Type": ctype})
                started = time.perf_counter()
                try:
                    urllib.request.urlopen(req)
                    answer = "200"
                except urllib.error.HTTPError as e:
                    answer = f'{e.code} {json.loads(e.read())["error"]}'
                took = (time.perf_counter() - started) * 1000
                grown = (peak_kb(server.pid) - before) / 1024
                print(f"| {name} | {len(body) / 1e6:.1f} MB | {answer} | {took:.0f} ms | +{grown:.1f} MB |")
            finally:
                server.terminate()
                server.wait()


if __name__ == "__main__":
    main()

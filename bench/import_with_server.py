#!/usr/bin/env python3
# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""How long cidrot-server's /next-cid waits while `cidrot import` writes the same SQLite file.

    python3 bench/gen_csv.py 300000 /tmp/300k.csv
    python3 bench/import_with_server.py build/apps /tmp/300k.csv            # adaptive chunks
    python3 bench/import_with_server.py build/apps /tmp/300k.csv 10000      # --chunk-size 10000

Starts cidrot-server on 127.0.0.1 (ephemeral port) over a fresh SQLite file with one number,
requests /next-cid in a loop (1 s leases), imports the CSV with the CLI meanwhile, and prints the
import time and the request latencies (p50, p99, max) and errors seen during it.
"""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    apps, csv = sys.argv[1], sys.argv[2]
    chunk = sys.argv[3] if len(sys.argv) > 3 else ""
    server_bin, cli_bin = f"{apps}/server/cidrot-server", f"{apps}/cli/cidrot"
    work = tempfile.mkdtemp(prefix="cidrot-stall-")
    url = f"sqlite://{work}/cidrot.db"
    subprocess.run([cli_bin, "--store", url, "add", "2125550001", "--max-concurrent", "10000"],
                   check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, CIDROT_STORE=url, CIDROT_LISTEN="127.0.0.1:0", LOG_LEVEL="WARNING")
    log = open(f"{work}/server.out", "w+b")
    server = subprocess.Popen([server_bin], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    port = None
    for _ in range(600):
        log.seek(0)
        m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    if port is None:
        server.kill()
        sys.exit("cidrot-server did not start")

    latencies, errors, stop = [], [0], [False]
    target = f"http://127.0.0.1:{port}/next-cid?to=2125550199&campaign=c&ttl=1&format=text"

    def requests():
        while not stop[0]:
            t = time.monotonic()
            try:
                with urllib.request.urlopen(target, timeout=30) as r:
                    r.read()
            except (urllib.error.URLError, OSError):
                errors[0] += 1
            latencies.append(time.monotonic() - t)

    thread = threading.Thread(target=requests)
    thread.start()
    time.sleep(1)
    args = [cli_bin, "--store", url, "import", csv] + (["--chunk-size", chunk] if chunk else [])
    t = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True)
    took = time.monotonic() - t
    stop[0] = True
    thread.join()
    server.terminate()
    server.wait()
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000
    print(f"chunk={chunk or 'adaptive'}: import {took:.1f} s ({result.stdout.strip()}); "
          f"/next-cid: {len(latencies)} requests, {errors[0]} errors, p50 {pct(0.5):.1f} ms, "
          f"p99 {pct(0.99):.1f} ms, max {latencies[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()

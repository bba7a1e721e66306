#!/usr/bin/env python3
# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""cidrot-server over real HTTP: the real binary on a free 127.0.0.1 port with a temporary store.

    python3 tests/server/http_test.py --server build/apps/server/cidrot-server --docs docs

Each server instance gets its own temporary directory as CIDROT_DATA_DIR, so the default store
(a SQLite file there; memory:// in a build without SQLite) starts empty. Only the standard
library is used (PyYAML when present, else a small reader for docs/openapi.yaml).
"""

import argparse
import contextlib
import datetime
import http.client
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

SERVER = None
DOCS = None
TOKEN = "http-test-token-0123456789abcdef"


class Server:
    """One cidrot-server process; stop() returns its exit code."""

    def __init__(self, env=None, args=(), token=TOKEN, nofile=None):
        self.dir = tempfile.mkdtemp(prefix="cidrot-http-")
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "CIDROT_DATA_DIR": self.dir,
            "CIDROT_LISTEN": "127.0.0.1:0",
            "LOG_LEVEL": "INFO",
            "CIDROT_TIME_ZONE": "America/New_York",
        }
        if token:
            full_env["ADMIN_TOKEN"] = token
        full_env.update(env or {})
        self.out_path = os.path.join(self.dir, "out.log")
        self.err_path = os.path.join(self.dir, "err.log")
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        # nofile: (soft, hard) RLIMIT_NOFILE for the server, as `ulimit -Sn/-Hn` would set it.
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile)) if nofile else None
        self.proc = subprocess.Popen([SERVER, *args], cwd=self.dir, env=full_env,
                                     stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL,
                                     preexec_fn=limit)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(self.out_path, "rb") as f:
                m = re.search(rb"listening on http://127\.0\.0\.1:(\d+) \(store (\S+),", f.read())
            if m:
                self.port = int(m.group(1))
                self.store = m.group(2).decode()
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            self.stop(signal.SIGKILL)
            raise RuntimeError("cidrot-server did not start:\n" + self.logs())

    def logs(self):
        with open(self.out_path, errors="replace") as out, open(self.err_path,
                                                                errors="replace") as err:
            return out.read() + "\n--- stderr ---\n" + err.read()

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, target, body=None, headers=None, admin=False, conn=None):
        """Returns (status, headers dict (lower-case names), body bytes)."""
        own = conn is None
        c = conn or self.conn()
        h = dict(headers or {})
        if admin:
            h["Authorization"] = "Bearer " + TOKEN
        if isinstance(body, str):
            body = body.encode()
        c.request(method, target, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        result = (r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        if own:
            c.close()
        return result

    def json(self, method, target, body=None, admin=False, headers=None):
        status, _, data = self.request(method, target, body, headers, admin)
        return status, (json.loads(data) if data else None)

    def stats(self):
        status, body = self.json("GET", "/api/stats", admin=True)
        assert status == 200, body
        return body

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            code = "hung (killed)"
        self.out.close()
        self.err.close()
        return code

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def q(**params):
    return urllib.parse.urlencode(params)


def csv_numbers(numbers, campaigns=""):
    lines = ["caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json,campaigns"]
    for n in numbers:
        lines.append(f'{n},TestTel,{n[:3]},,,"{{""test"": true}}",{campaigns}')
    return "\n".join(lines) + "\n"


def import_numbers(server, numbers, campaigns=""):
    status, body = server.json("POST", "/api/numbers/import", csv_numbers(numbers, campaigns),
                               admin=True, headers={"Content-Type": "text/csv"})
    assert status == 200 and body["rejected"] == 0, (status, body)
    return body


def hold_and_release(servers, clients, rounds, campaign, destinations, outcome=False,
                     hold_s=0.003):
    """`clients` threads (client i on servers[i % len(servers)], one keep-alive connection each)
    each lease `rounds` times, hold the caller-ID for up to `hold_s` and release it. Returns
    (granted, violations, errors): violations lists caller-IDs held by two clients at once."""
    held = {}
    lock = threading.Lock()
    violations, errors = [], []
    granted = [0]
    start = threading.Barrier(clients)

    def client(idx):
        server = servers[idx % len(servers)]
        conn = server.conn()
        try:
            start.wait()
            for i in range(rounds):
                to = random.choice(destinations)
                status, _, body = server.request(
                    "GET", "/next-cid?" + q(to=to, campaign=campaign, agent=f"agent{idx}"),
                    conn=conn)
                if status == 409:
                    continue
                if status != 200:
                    errors.append((status, body[:200]))
                    continue
                lease = json.loads(body)
                cid = lease["caller_id"]
                with lock:
                    granted[0] += 1
                    if cid in held:
                        violations.append((cid, held[cid], idx))
                    held[cid] = idx
                time.sleep(random.random() * hold_s)
                with lock:
                    del held[cid]
                fields = {"reservation_id": lease["reservation_id"]}
                if outcome:
                    fields.update(disposition="answered", duration=i)
                status, _, body = server.request(
                    "POST", "/release", q(**fields),
                    headers={"Content-Type": "application/x-www-form-urlencoded"}, conn=conn)
                if status != 200 or json.loads(body)["released"] != 1:
                    errors.append(("release", status, body[:200]))
        except Exception as e:  # noqa: BLE001 - reported to the caller
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return granted[0], violations, errors


def raw_exchange(port, data, timeout=5, read_until_close=True):
    """Sends raw bytes, returns everything the server sends until it closes (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)
    finally:
        s.close()


def recv_all(sock, size=65536, slow_until=0):
    """Everything `sock` receives until the peer closes; the first `slow_until` bytes slowly."""
    data = b""
    while True:
        chunk = sock.recv(size)
        if not chunk:
            return data
        data += chunk
        if len(data) < slow_until:
            time.sleep(0.001)


def parse_responses(data):
    """Splits a byte stream into (status, headers, body) responses (Content-Length framing)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


def metric_value(server, name):
    """The value of an unlabelled metric in the server's /metrics."""
    _, _, text = server.request("GET", "/metrics")
    return int(re.search(rb"^" + name.encode() + rb" (\d+)$", text, re.M).group(1))


def wait_closed(sock, timeout):
    """Seconds until the peer closed `sock` (recv returned b''), or None after `timeout`."""
    start = time.time()
    sock.settimeout(0.05)
    while time.time() - start < timeout:
        try:
            if sock.recv(4096) == b"":
                return time.time() - start
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.time() - start
    return None


def npa_numbers(npas, per_npa):
    return [f"{npa}55501{i:02d}" for npa in npas for i in range(per_npa)]


def setUpModule():
    global MAIN
    MAIN = Server()


def tearDownModule():
    code = MAIN.stop()
    logs = MAIN.logs()
    MAIN.cleanup()
    assert code == 0, f"main server exit code {code}\n{logs[-3000:]}"


class ConcurrencyTest(unittest.TestCase):
    """Many concurrent clients never share a lease; counters match the leases granted."""

    def test_concurrent_clients_hold_distinct_leases(self):
        numbers = npa_numbers([212, 646, 718], 10)  # 30 numbers, 64 clients: denials happen
        import_numbers(MAIN, numbers, campaigns="conc")
        before = MAIN.stats()
        granted, violations, errors = hold_and_release(
            [MAIN], 64, 25, "conc", ["2125551234", "6465550000", "7185559999", "9175551212"],
            outcome=True)
        self.assertEqual(errors, [])
        self.assertEqual(violations, [], "a caller-ID was held by two clients at once")
        self.assertGreater(granted, 0)
        after = MAIN.stats()
        self.assertEqual(after["active_leases"], 0)
        self.assertEqual(after["total_uses"] - before["total_uses"], granted)

    def test_simultaneous_grab_without_release(self):
        numbers = npa_numbers([303, 720], 10)
        import_numbers(MAIN, numbers, campaigns="grab")
        results = []
        lock = threading.Lock()
        start = threading.Barrier(48)

        def client(idx):
            start.wait()
            status, _, body = MAIN.request(
                "GET", "/next-cid?" + q(to="3035551234", campaign="grab", agent=f"g{idx}"))
            with lock:
                results.append((status, json.loads(body)))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(48)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [b["caller_id"] for s, b in results if s == 200]
        self.assertEqual(len(ok), 20)
        self.assertEqual(len(set(ok)), 20)
        reasons = {b["reason"] for s, b in results if s != 200}
        self.assertEqual(reasons, {"all_reserved"})
        for n in numbers:
            status, body = MAIN.json("DELETE", f"/api/reservation/{n}", admin=True)
            self.assertEqual((status, body["released"]), (200, 1))


class SharedStoreTest(unittest.TestCase):
    """Two servers over one SQLite file, as two processes: no lease is shared between them, and
    kill -9 of one loses none of the leases it acknowledged."""

    def test_two_servers_one_file_then_kill_9(self):
        shared = tempfile.mkdtemp(prefix="cidrot-shared-")
        env = {"CIDROT_STORE": "sqlite://" + os.path.join(shared, "shared.db")}
        a, b = Server(env=env), Server(env=env)
        try:
            numbers = npa_numbers([212, 646], 20)  # 40 numbers, 32 clients holding one each
            import_numbers(a, numbers, campaigns="shared")
            granted, violations, errors = hold_and_release((a, b), 32, 30, "shared",
                                                           ["2125551234"], hold_s=0.002)
            self.assertEqual(errors, [])
            self.assertEqual(violations, [], "two servers handed out one caller-ID at once")
            self.assertGreater(granted, 0)
            for server in (a, b):
                st = server.stats()
                self.assertEqual((st["active_leases"], st["total_uses"]), (0, granted))
            # Each server counts its own leases; together they are every lease.
            self.assertEqual(metric_value(a, "cidrot_leases_granted_total") +
                             metric_value(b, "cidrot_leases_granted_total"), granted)

            # Server a acknowledges 10 leases, then dies without a chance to clean up.
            kept = []
            for i in range(10):
                status, body = a.json("GET", "/next-cid?" + q(to="6465551234", campaign="shared",
                                                              agent=f"k{i}"))
                self.assertEqual(status, 200, body)
                kept.append(body)
            self.assertEqual(a.stop(signal.SIGKILL), -signal.SIGKILL)
            # Server b still sees all ten as held: it hands out the other 30 numbers, then none.
            st = b.stats()
            self.assertEqual((st["active_leases"], st["total_uses"]), (10, granted + 10))
            kept_ids = {k["caller_id"] for k in kept}
            got = []
            for i in range(31):
                status, body = b.json("GET", "/next-cid?" + q(to="6465551234",
                                                              campaign="shared", agent="late"))
                if status == 200:
                    got.append(body["caller_id"])
                else:
                    self.assertEqual((status, body["reason"]), (409, "all_reserved"))
            self.assertEqual(len(got), 30)
            self.assertEqual(set(got) & kept_ids, set())
            # A new server on the file releases a's leases by their reservation ids.
            a2 = Server(env=env)
            try:
                for k in kept:
                    status, body = a2.json("POST", "/release",
                                           json.dumps({"reservation_id": k["reservation_id"]}),
                                           headers={"Content-Type": "application/json"})
                    self.assertEqual((status, body["released"]), (200, 1))
                self.assertEqual(a2.stats()["active_leases"], 30)
            finally:
                self.assertEqual(a2.stop(), 0)
                a2.cleanup()
        finally:
            a.stop(signal.SIGKILL)
            self.assertEqual(b.stop(), 0)
            a.cleanup()
            b.cleanup()
            shutil.rmtree(shared, ignore_errors=True)


class BadInputTest(unittest.TestCase):
    """Bad input always gets a 4xx and leaves no lease, counter or row behind."""

    def test_a_parameter_given_twice_names_it_unless_the_values_agree(self):
        import_numbers(MAIN, ["2125550177"], campaigns="twice")
        before = MAIN.stats()
        status, body = MAIN.json("GET", "/next-cid?to=2125551234&campaign=twice&to=3125551234")
        self.assertEqual((status, body["field"]), (400, "to"), body)
        self.assertIn("given twice", body["message"])
        self.assertEqual(MAIN.stats()["total_uses"], before["total_uses"])
        status, body = MAIN.json("GET", "/next-cid?to=2125551234&campaign=twice&to=2125551234")
        self.assertEqual((status, body["caller_id"]), (200, "2125550177"), body)
        status, body = MAIN.json("POST", "/release", "caller_id=2125550177&caller_id=2125550178",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((status, body["field"]), (400, "caller_id"), body)
        status, body = MAIN.json("POST", "/release", f"caller_id=2125550177&caller_id=2125550177",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((status, body["released"]), (200, 1), body)
        # /api/numbers lists several area codes by repeating the filter: still allowed.
        status, body = MAIN.json("GET", "/api/numbers?area_code=212&area_code=646", admin=True)
        self.assertEqual(status, 200, body)

    def test_an_error_names_the_parameter_the_client_sent(self):
        for target, field in [("/api/numbers?prefix=21x", "prefix"),
                              ("/api/numbers?caller_id_prefix=21x", "caller_id_prefix"),
                              ("/api/numbers?colour=red", "colour")]:
            status, body = MAIN.json("GET", target, admin=True)
            self.assertEqual((status, body.get("field")), (400, field), body)
        # "?" alone and a trailing "&" are no parameter at all.
        for target in ("/api/numbers?", "/api/numbers?limit=1&"):
            self.assertEqual(MAIN.json("GET", target, admin=True)[0], 200, target)
        before = MAIN.stats()["numbers"]
        status, body = MAIN.json("POST", "/api/numbers/import?dryrun=1", "2125550177\n",
                                 admin=True)
        self.assertEqual((status, body.get("field")), (400, "dryrun"), body)
        self.assertEqual(MAIN.stats()["numbers"], before)

    def test_bad_input_table(self):
        import_numbers(MAIN, ["2125550199"], campaigns="bad")
        before = MAIN.stats()
        big = "9" * 10240
        json_h = {"Content-Type": "application/json"}
        csv_h = {"Content-Type": "text/csv"}
        form_h = {"Content-Type": "application/x-www-form-urlencoded"}
        cases = [
            ("GET", "/next-cid?campaign=bad", None, {}, False),
            ("GET", "/next-cid?to=&campaign=bad", None, {}, False),
            ("GET", "/next-cid?to=2125551234", None, {}, False),
            ("GET", "/next-cid?to=2125551234&campaign=", None, {}, False),
            ("GET", "/next-cid?to=twelve&campaign=bad", None, {}, False),
            ("GET", "/next-cid?to=12.5&campaign=bad", None, {}, False),
            ("GET", "/next-cid?to=0125551234&campaign=bad", None, {}, False),
            ("GET", "/next-cid?to=2129111234&campaign=bad", None, {}, False),
            ("GET", "/next-cid?" + q(to=big, campaign="bad"), None, {}, False),
            ("GET", "/next-cid?" + q(to="2125551234", campaign=big), None, {}, False),
            ("GET", "/next-cid?" + q(to="2125551234", campaign="bad", agent=big), None, {}, False),
            ("GET", "/next-cid?to=2125551234&campaign=bad&ttl=-1", None, {}, False),
            ("GET", "/next-cid?to=2125551234&campaign=bad&ttl=99999999", None, {}, False),
            ("GET", "/next-cid?to=2125551234&campaign=bad&format=xml", None, {}, False),
            ("GET", "/next-cid?to=2125551234&campaign=%00", None, {}, False),
            ("GET", "/next-cid?to=%E2%98%8E&campaign=bad", None, {}, False),
            ("GET", "/next-cid?to=2125551234&campaign=bad&to=6465551234", None, {}, False),
            ("GET", "/next-cid?to=2125551234&campaign=bad&ttl=60&ttl=3600", None, {}, False),
            ("POST", "/release", "caller_id=2125550199&caller_id=2125550198", form_h, False),
            ("POST", "/add-number?caller_id=2125550188&caller_id=2125550187", None, {}, True),
            ("POST", "/release", "", form_h, False),
            ("POST", "/release", "reservation_id=nothex", form_h, False),
            ("POST", "/release", '{"reservation_id": 5', json_h, False),
            ("POST", "/release", "caller_id=2125550199&duration=abc", form_h, False),
            ("POST", "/add-number", '{"caller_id": "2125550188", ', json_h, True),
            ("POST", "/add-number", '"just a string"', json_h, True),
            ("POST", "/add-number", '{"caller_id": "2125550188", "meta": "{not json"}', json_h,
             True),
            ("POST", "/add-number", '{"caller_id": "2125550188", "hourly_limit": -3}', json_h,
             True),
            ("POST", "/add-number", '{"caller_id": "' + big + '"}', json_h, True),
            ("POST", "/add-number", '{"caller_id": "2125550188", "meta": {"x": "' + "y" * 5000 +
             '"}}', json_h, True),
            ("POST", "/add-number", '{"caller_id": "2125550188"}', json_h, False),
            ("POST", "/add-number", '{"caller_id": "2125550188"}',
             {**json_h, "Authorization": "Bearer wrong-token"}, False),
            ("POST", "/add-number", '{"caller_id": "2125550188"}',
             {**json_h, "X-Admin-Token": TOKEN + "x"}, False),
            ("POST", "/add-number", '{"caller_id": "2125550188"}',
             {**json_h, "Authorization": "Basic " + TOKEN}, False),
            ("POST", "/api/numbers/import", "caller_id,carrier,colour\n2125550188,x,red\n", csv_h,
             True),
            ("POST", "/api/numbers/import", "2125550188,x,212,\"unterminated\n", csv_h, True),
            ("POST", "/api/numbers/import", "\x00\x01\x02binary", csv_h, True),
            ("POST", "/api/numbers/import", "2125550188,x,212,lots,,\n", csv_h, True),
            ("POST", "/api/numbers/import", "", csv_h, True),
            # A misspelt option must not import for real.
            ("POST", "/api/numbers/import?dryrun=1", "2125550188,x\n", csv_h, True),
            ("GET", "/api/numbers?prefix=21x", None, {}, True),
            ("PATCH", "/api/numbers/2125550199", '{"active": "maybe"}', json_h, True),
            ("PATCH", "/api/numbers/2125550199", '{"daily_limit": -1}', json_h, True),
            ("PATCH", "/api/numbers/2125550199", "{", json_h, True),
            ("GET", "/api/numbers?limit=100000", None, {}, True),
            ("GET", "/api/numbers?offset=-1", None, {}, True),
            ("DELETE", "/api/numbers/not-a-number", None, {}, True),
            ("DELETE", "/api/reservation/" + big[:200], None, {}, True),
            ("GET", "/api/stats", None, {"Authorization": "Bearer "}, False),
            ("PUT", "/next-cid", None, {}, False),
            ("GET", "/no/such/route", None, {}, False),
        ]
        for method, target, body, headers, admin in cases:
            with self.subTest(method=method, target=target[:80], body=(body or "")[:60]):
                status, h, data = MAIN.request(method, target, body, headers, admin)
                self.assertTrue(400 <= status < 500, (status, data[:300]))
                self.assertTrue(h.get("content-type", "").startswith("application/json"))
                err = json.loads(data)
                self.assertIn("error", err)
                self.assertIn("message", err)
                if status == 400 and err["error"] == "invalid_argument":
                    self.assertTrue(err.get("field"), err)
        # Beyond the limits: a 20 kB query (431), a body over the route's limit (413), garbage.
        raw_cases = [
            (b"GET /next-cid?to=" + b"9" * 20000 + b"&campaign=bad HTTP/1.1\r\nHost: x\r\n\r\n",
             431),
            (b"POST /add-number HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 200000\r\n\r\n" + b"{" * 1000, 413),
            (b"POST /api/numbers/import HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n"
             b"Authorization: Bearer wrong\r\n\r\n", 413),
            # Chunked: no Content-Length to refuse up front; refused when the body outgrows it.
            (b"POST /add-number HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
             b"".join(b"4000\r\n" + b"{" * 0x4000 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n",
             413),
            (b"HELLO\r\n\r\n", 400),
            (b"GET / HTTP/9.9\r\n\r\n", None),
            (b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
            (b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        ]
        for data, expected in raw_cases:
            with self.subTest(raw=data[:60]):
                responses = parse_responses(raw_exchange(MAIN.port, data))
                self.assertEqual(len(responses), 1, data[:60])
                if expected is None:
                    self.assertTrue(400 <= responses[0][0] < 500, responses[0])
                else:
                    self.assertEqual(responses[0][0], expected)
                if expected == 413:
                    # The limit that applies (64 KiB: the import's 16 MiB is for admins only).
                    self.assertEqual(json.loads(responses[0][2])["message"],
                                     "body: larger than 65536 bytes")
        after = MAIN.stats()
        for key in ("numbers", "active_leases", "total_uses", "leased_numbers"):
            self.assertEqual(after[key], before[key], key)
        status, body = MAIN.json("GET", "/api/numbers/2125550199", admin=True)
        self.assertEqual((status, body["active"], body["hour_count"]), (200, True, 0))
        self.assertEqual(MAIN.json("GET", "/api/numbers/2125550188", admin=True)[0], 404)


class ProtocolTest(unittest.TestCase):
    """Keep-alive, pipelining, Expect: 100-continue, text format, logs."""

    def test_keep_alive_many_requests_one_connection(self):
        conn = MAIN.conn()
        for _ in range(50):
            status, _, _ = MAIN.request("GET", "/health", conn=conn)
            self.assertEqual(status, 200)
        sock = conn.sock
        self.assertIsNotNone(sock)  # the same connection served all 50
        conn.close()

    def test_pipelined_requests_answered_in_order(self):
        import_numbers(MAIN, ["4155550100"], campaigns="pipe")
        reqs = [
            "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /next-cid?to=4155551234&campaign=pipe&format=text HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /next-cid?to=4155551234&campaign=pipe&format=text HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /release HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            "\r\nContent-Length: 20\r\n\r\ncaller_id=4155550100",
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ]
        data = raw_exchange(MAIN.port, "".join(reqs).encode())
        responses = parse_responses(data)
        self.assertEqual([r[0] for r in responses[:3]], [200, 404, 200])
        self.assertEqual(responses[2][2], b"4155550100")
        # The second lease cannot be the number the first one holds (409 if nothing else is free).
        self.assertIn(responses[3][0], (200, 409))
        self.assertNotEqual(responses[3][2], b"4155550100")
        self.assertEqual([r[0] for r in responses[4:]], [200, 200])
        self.assertEqual(json.loads(responses[4][2])["released"], 1)
        self.assertIn(b"cidrot_http_requests_total", responses[5][2])
        self.assertIn(b'cidrot_http_requests_total{method="other",route="other",status="404"}',
                      responses[5][2])
        self.assertEqual(responses[5][1].get("connection"), "close")

    def test_head_has_the_get_headers_and_no_body_and_never_leases(self):
        import_numbers(MAIN, ["5035550100"], campaigns="head")
        reqs = [
            "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n",
            "HEAD /next-cid?to=5035551234&campaign=head HTTP/1.1\r\nHost: x\r\n\r\n",
            "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ]
        data = raw_exchange(MAIN.port, "".join(reqs).encode())
        # Content-Length framing would misread the stream if a HEAD answer carried a body:
        # read it header by header instead.
        heads = data.split(b"\r\n\r\n")
        self.assertEqual(len(heads), 5, data)
        statuses = [int(h.split(b" ")[1]) for h in heads[:4]]
        self.assertEqual(statuses, [200, 405, 404, 200])
        self.assertIn(b"Allow: GET", heads[1])
        get_len = int(re.search(rb"Content-Length: (\d+)", heads[3]).group(1))
        self.assertEqual(int(re.search(rb"Content-Length: (\d+)", heads[0]).group(1)), get_len)
        self.assertEqual(json.loads(heads[4])["status"], "healthy")
        # The 405 leased nothing: the number is still free.
        status, body = MAIN.json("GET", "/next-cid?to=5035551234&campaign=head")
        self.assertEqual((status, body.get("caller_id")), (200, "5035550100"))
        status, _, _ = MAIN.request("POST", "/health")
        self.assertEqual(status, 405)
        # The access line counts the body bytes sent: none for a HEAD.
        time.sleep(1.2)  # the access log is flushed once a second
        self.assertRegex(MAIN.logs(), r'"HEAD /health" 200 0 ')

    def test_large_answer_to_a_slow_reader_then_the_next_request(self):
        # A listing larger than the socket buffers: the server sends what the socket takes, the
        # rest as the client reads, and then answers the request pipelined behind it.
        import_numbers(MAIN, npa_numbers([484, 502, 504, 505, 507], 100), campaigns="slowread")
        reqs = (f"GET /api/numbers?campaign=slowread&limit=10000 HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {TOKEN}\r\n\r\n"
                f"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", MAIN.port))
        s.sendall(reqs)
        time.sleep(0.3)  # the server's first send() fills the buffers and has to wait
        data = recv_all(s, size=1024, slow_until=64 * 1024)
        s.close()
        responses = parse_responses(data)
        self.assertEqual([r[0] for r in responses], [200, 200])
        self.assertGreater(len(responses[0][2]), 64 * 1024)
        listing = json.loads(responses[0][2])
        self.assertEqual((listing["total"], len(listing["items"])), (500, 500))

    def test_expect_100_continue(self):
        body = csv_numbers(["5125550100", "5125550101"], campaigns="expect").encode()
        head = (f"POST /api/numbers/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                f"Content-Type: text/csv\r\nExpect: 100-continue\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        s = socket.create_connection(("127.0.0.1", MAIN.port), timeout=5)
        s.sendall(head)
        interim = s.recv(4096)
        self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim)
        s.sendall(body)
        rest = recv_all(s)
        s.close()
        final = parse_responses(rest)
        self.assertEqual(final[0][0], 200)
        self.assertEqual(json.loads(final[0][2])["inserted"] + json.loads(final[0][2])["updated"],
                         2)

    def test_import_larger_than_the_default_body_limit(self):
        npas = [702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724,
                725, 727, 731, 732, 734, 737, 740, 747, 754, 757, 760, 762, 763, 765, 769, 770,
                772, 773, 774, 775, 779, 781, 785, 786]
        numbers = [f"{npa}55501{i:02d}" for npa in npas for i in range(100)]
        body = csv_numbers(numbers, campaigns="bulk")
        self.assertGreater(len(body), 128 * 1024)  # twice the default 64 KiB limit
        status, result = MAIN.json("POST", "/api/numbers/import", body, admin=True,
                                   headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 200, result)
        self.assertEqual(result["inserted"] + result["updated"], 4000)
        # Without the token the same body is refused before it is read.
        status, result = MAIN.json("POST", "/api/numbers/import", body,
                                   headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 413)

    def test_text_format_and_seed_fields(self):
        import_numbers(MAIN, ["6175550100"], campaigns="textfmt")
        status, h, body = MAIN.request(
            "GET", "/next-cid?" + q(to="+1 (617) 555-1234", campaign="textfmt", agent="ast",
                                    format="text"))
        self.assertEqual((status, body), (200, b"6175550100"))
        self.assertTrue(h["content-type"].startswith("text/plain"))
        MAIN.json("POST", "/release", json.dumps({"caller_id": "6175550100"}))
        status, body = MAIN.json("GET", "/next-cid?" + q(to="6175551234", campaign="textfmt",
                                                        agent="ast"))
        self.assertEqual(status, 200)
        for key in ("caller_id", "carrier", "area_code", "meta", "reservation_id", "expires_at",
                    "match"):
            self.assertIn(key, body)
        self.assertEqual(body["meta"], {"test": True})
        self.assertEqual(body["match"], "same_npa")
        MAIN.json("POST", "/release", json.dumps({"reservation_id": body["reservation_id"]}),
                  headers={"Content-Type": "application/json"})

    def test_logs_never_contain_the_token(self):
        MAIN.request("GET", "/api/stats?x=1", admin=True)
        MAIN.request("GET", "/api/stats", headers={"X-Admin-Token": TOKEN})
        MAIN.request("GET", "/health?token=" + TOKEN)
        time.sleep(1.2)  # the access log is flushed once a second
        logs = MAIN.logs()
        self.assertIn('"GET /api/stats?x=1" 200', logs)
        self.assertNotIn(TOKEN, logs)

    def test_a_memory_store_is_announced_as_lost_on_stop(self):
        s = Server(env={"CIDROT_STORE": "memory://"})
        try:
            self.assertEqual(s.store, "memory://")
            self.assertRegex(s.logs(), r"WARNING the store is memory://: .* lost when it stops")
        finally:
            self.assertEqual(s.stop(), 0)
        # The default store warns only where it is memory:// (a build without SQLite).
        self.assertEqual("the store is memory://" in MAIN.logs(),
                         MAIN.store.startswith("memory://"))


class LimitsAndShutdownTest(unittest.TestCase):
    """Timeouts bound slow clients; SIGTERM finishes in-flight work and exits 0."""

    def test_idle_and_header_timeouts(self):
        s = Server(args=["--idle-timeout-ms", "800", "--header-timeout-ms", "500"])
        try:
            idle = socket.create_connection(("127.0.0.1", s.port))
            partial = socket.create_connection(("127.0.0.1", s.port))
            partial.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            trickle = socket.create_connection(("127.0.0.1", s.port))
            closed_at = [None]

            def drip():
                # One byte every 100 ms: progress, but the header deadline still applies.
                t0 = time.time()
                try:
                    for b in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                        trickle.send(bytes([b]))
                        time.sleep(0.1)
                except OSError:
                    closed_at[0] = time.time() - t0

            t = threading.Thread(target=drip)
            t.start()
            waited_partial = wait_closed(partial, 5)
            waited_idle = wait_closed(idle, 5)
            t.join(timeout=15)
            self.assertIsNotNone(waited_partial, "a partial request held the connection")
            self.assertLess(waited_partial, 2.0)
            self.assertIsNotNone(waited_idle, "an idle connection was never closed")
            self.assertLess(waited_idle, 3.0)
            self.assertIsNotNone(closed_at[0], "a trickling client held the connection")
            self.assertLess(closed_at[0], 4.0)
            for sock in (idle, partial, trickle):
                sock.close()
            # A fresh connection still works.
            self.assertEqual(s.request("GET", "/health")[0], 200)
        finally:
            code = s.stop()
            s.cleanup()
        self.assertEqual(code, 0)

    def test_a_low_descriptor_limit_caps_connections_and_leases_never_fail(self):
        # Soft = hard = 200: the server cannot raise it, so it serves 200 - (64 + 4 x 8 workers)
        # = 104 connections and closes the rest on accept. 300 connections are opened before the
        # first lease, so the store's own opens (reader connections, the zone file) come after
        # every descriptor the connections could take.
        s = Server(env={"CIDROT_THREADS": "8"}, nofile=(200, 200))
        socks = []
        try:
            numbers = [f"31255502{i:02d}" for i in range(60)]
            self.assertEqual(s.request("POST", "/api/numbers/import", csv_numbers(numbers),
                                       admin=True)[0], 200)
            for _ in range(300):
                socks.append(socket.create_connection(("127.0.0.1", s.port), timeout=10))
            # Wait until the server has accepted every one and closed those past its cap, so
            # that no connection is accepted later, after the served ones end.
            served, closed, deadline = set(socks), [], time.time() + 20
            while len(closed) < 300 - 104 and time.time() < deadline:
                readable, _, _ = select.select(list(served), [], [], 0.1)
                for sock in readable:
                    try:
                        data = sock.recv(1)
                    except OSError:
                        data = b""
                    self.assertEqual(data, b"", "a response before any request")
                    served.discard(sock)
                    closed.append(sock)
            self.assertEqual(len(closed), 300 - 104, s.logs()[-1500:])
            statuses, granted = [], []
            for i, sock in enumerate(socks):
                if sock not in served:
                    continue
                sock.sendall(f"GET /next-cid?{q(to='3125550000', campaign='fd', agent=f'fd{i}')}"
                             " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            for sock in socks:
                if sock not in served:
                    continue
                data = recv_all(sock)
                for status, _, body in parse_responses(data):
                    statuses.append(status)
                    if status == 200:
                        granted.append(json.loads(body)["caller_id"])
            self.assertEqual(sorted(set(statuses)), [200, 409], s.logs()[-1500:])
            self.assertEqual(len(statuses), 104, s.logs()[-1500:])
            self.assertEqual(len(granted), 60)
            self.assertEqual(sorted(granted), sorted(numbers))
            self.assertNotIn("ERROR", s.logs())
            self.assertRegex(s.logs(), r"WARNING the descriptor limit \(ulimit -n\) is 200, so at "
                             r"most 104 client connections")
            for sock in socks:
                sock.close()
            socks = []
            self.assertEqual(s.request("GET", "/health")[0], 200)
            _, _, text = s.request("GET", "/metrics")
            self.assertIn(b"\ncidrot_http_connections_refused_total 196\n", text)
            # Logged at the first refusal and at each power of two, not 196 times.
            refusals = re.findall(r"WARNING 104 connections are open .*\((\d+) so far\)",
                                  s.logs())
            self.assertEqual(refusals, ["1", "2", "4", "8", "16", "32", "64", "128"])
        finally:
            for sock in socks:
                sock.close()
            code = s.stop()
            s.cleanup()
        self.assertEqual(code, 0)

    def test_the_soft_descriptor_limit_is_raised_as_far_as_connections_need(self):
        for bad_value in ("0", "-1", "lots", "1000001"):
            bad = subprocess.run([SERVER, "--max-connections", bad_value], capture_output=True,
                                 text=True, timeout=10)
            self.assertEqual(bad.returncode, 2, bad_value)
            self.assertIn("--max-connections must be 1..1000000", bad.stderr)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        hard = 20000 if hard == resource.RLIM_INFINITY else min(hard, 20000)
        s = Server(env={"CIDROT_THREADS": "8"}, nofile=(256, hard))
        try:
            with open(f"/proc/{s.proc.pid}/limits") as f:
                soft = int(re.search(r"Max open files\s+(\d+)", f.read()).group(1))
            wanted = 10000 + 64 + 4 * 8
            self.assertEqual(soft, min(wanted, hard))
            if hard >= wanted:
                self.assertNotIn("descriptor limit", s.logs())
            else:
                self.assertIn(f"at most {hard - 96} client connections", s.logs())
        finally:
            code = s.stop()
            s.cleanup()
        self.assertEqual(code, 0)

    def test_sigterm_finishes_in_flight_then_exits_0(self):
        s = Server()
        try:
            idle = socket.create_connection(("127.0.0.1", s.port))
            self.assertEqual(s.request("GET", "/health")[0], 200)
            # A request in flight: headers and half the body sent when the signal arrives.
            body = csv_numbers([f"21255501{i:02d}" for i in range(50)]).encode()
            head = (f"POST /api/numbers/import HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: Bearer {TOKEN}\r\nContent-Type: text/csv\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            slow = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            slow.sendall(head + body[:len(body) // 2])
            time.sleep(0.3)
            s.proc.send_signal(signal.SIGTERM)
            self.assertIsNotNone(wait_closed(idle, 5), "an idle connection was left open")
            idle.close()
            self.assertIsNone(s.proc.poll(), "exited with a request in flight")
            with self.assertRaises(OSError):  # no longer accepting
                socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
            slow.sendall(body[len(body) // 2:])
            data = recv_all(slow)
            slow.close()
            responses = parse_responses(data)
            self.assertEqual(len(responses), 1, data[:300])
            status, headers, payload = responses[0]
            self.assertEqual(status, 200, payload[:300])
            self.assertEqual(json.loads(payload)["inserted"], 50)
            self.assertEqual(headers.get("connection"), "close")
            code = s.proc.wait(timeout=20)
            self.assertEqual(code, 0, s.logs()[-2000:])
            self.assertIn("received SIGTERM", s.logs())
        finally:
            s.stop()
            s.cleanup()

    def test_rate_limit_per_agent(self):
        s = Server(env={"RATE_LIMIT_PER_AGENT": "3"})
        try:
            import_numbers(s, ["2125550100", "2125550101", "2125550102", "2125550103",
                               "2125550104", "2125550105"])
            for _ in range(3):
                self.assertEqual(s.request("GET", "/next-cid?" + q(
                    to="2125551234", campaign="c", agent="busy"))[0], 200)
            status, h, body = s.request("GET", "/next-cid?" + q(to="2125551234", campaign="c",
                                                                agent="busy"))
            self.assertEqual(status, 429)
            self.assertGreaterEqual(int(h["retry-after"]), 1)
            self.assertEqual(json.loads(body)["error"], "rate_limited")
            self.assertEqual(s.request("GET", "/next-cid?" + q(
                to="2125551234", campaign="c", agent="other"))[0], 200)
            self.assertEqual(s.stats()["active_leases"], 4)
        finally:
            self.assertEqual(s.stop(), 0)
            s.cleanup()

    def test_two_io_threads_under_concurrent_load(self):
        # Answers come back from the store workers in batches; with several I/O threads two
        # batches can be handed out at once.
        s = Server(args=["--io-threads", "2"])
        try:
            import_numbers(s, npa_numbers([212, 213, 214, 215], 25), campaigns="mt")
            statuses = []
            lock = threading.Lock()

            def client(idx):
                conn = s.conn()
                got = []
                for i in range(150):
                    path = ("/health" if i % 10 == 0 else
                            "/next-cid?" + q(to="2125551234", campaign="mt", agent=f"a{idx}",
                                             ttl="1"))
                    got.append(s.request("GET", path, conn=conn)[0])
                conn.close()
                with lock:
                    statuses.extend(got)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(len(statuses), 12 * 150)
            self.assertEqual(set(statuses) - {200, 409}, set())
        finally:
            self.assertEqual(s.stop(), 0)
            s.cleanup()

    def test_expired_leases_are_dropped_in_the_background(self):
        # Without calls, the sweep (--expire-every-ms) deletes the expired lease rows; with it
        # off they stay until the next call.
        bad = subprocess.run([SERVER, "--expire-every-ms", "-5"], capture_output=True, text=True,
                             timeout=10)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--expire-every-ms must be", bad.stderr)
        rows = {}
        for every in ("100", "0"):
            s = Server(args=["--expire-every-ms", every])
            try:
                import_numbers(s, npa_numbers([212], 3), campaigns="sweep")
                for i in range(3):
                    status, body = s.json("GET", "/next-cid?" + q(to="2125551234", campaign="sweep",
                                                                  agent=f"s{i}", ttl="1"))
                    self.assertEqual(status, 200, body)
                time.sleep(1.6)
                db = sqlite3.connect("file:" + s.store[len("sqlite://"):] + "?mode=ro", uri=True)
                try:
                    rows[every] = db.execute("SELECT count(*) FROM leases").fetchone()[0]
                finally:
                    db.close()
                self.assertEqual(s.stats()["active_leases"], 0)
            finally:
                self.assertEqual(s.stop(), 0)
                s.cleanup()
        self.assertEqual(rows, {"100": 0, "0": 3})

    def test_leases_granted_total_counts_this_servers_leases_and_never_drops(self):
        s = Server(env={"CIDROT_STORE": "memory://"})
        try:
            import_numbers(s, ["2125550100"])
            for _ in range(3):
                self.assertEqual(s.json("GET", "/next-cid?to=2125551234&campaign=m")[0], 200)
                s.request("POST", "/release?caller_id=2125550100")
            self.assertEqual(s.json("GET", "/next-cid?to=2125551234&campaign=m&ttl=1")[0], 200)
            self.assertEqual(s.json("GET", "/next-cid?to=2125551234&campaign=m")[0], 409)
            self.assertEqual(metric_value(s, "cidrot_leases_granted_total"), 4)
            self.assertEqual(metric_value(s, "cidrot_store_total_uses"), 4)
            # Deleting the number drops the store's sum (a gauge), never the counter.
            self.assertEqual(s.request("DELETE", "/api/numbers/2125550100", admin=True)[0], 200)
            self.assertEqual(metric_value(s, "cidrot_leases_granted_total"), 4)
            self.assertEqual(metric_value(s, "cidrot_store_total_uses"), 0)
        finally:
            self.assertEqual(s.stop(), 0)
            s.cleanup()

    def test_campaign_settings_from_a_file(self):
        d = tempfile.mkdtemp(prefix="cidrot-campaigns-")
        path = os.path.join(d, "campaigns.json")
        with open(path, "w") as f:
            json.dump({"local": {"tiers": ["same_npa"], "lease_ttl": 45}}, f)
        s = Server(env={"CIDROT_CAMPAIGNS": path})
        try:
            self.assertIn("campaign settings from " + path + ": local", s.logs())
            import_numbers(s, ["2125550100", "2125550101"])  # numbers for every campaign
            # "local" stops at the destination's own area code; a campaign without settings
            # climbs the whole ladder to "any".
            status, body = s.json("GET", "/next-cid?to=3105551234&campaign=local")
            self.assertEqual((status, body.get("reason")), (409, "no_match_in_scope"), body)
            status, body = s.json("GET", "/next-cid?to=3105551234&campaign=other")
            self.assertEqual((status, body["match"]), (200, "any"), body)
            status, body = s.json("GET", "/next-cid?to=2125551234&campaign=local")
            self.assertEqual((status, body["match"]), (200, "same_npa"), body)
            held = next(r for r in s.json("GET", "/api/reservations", admin=True)[1]["items"]
                        if r["caller_id"] == body["caller_id"])
            lease_s = (datetime.datetime.fromisoformat(held["expires_at"].replace("Z", "+00:00")) -
                       datetime.datetime.fromisoformat(held["leased_at"].replace("Z", "+00:00")))
            self.assertEqual(lease_s.total_seconds(), 45)  # the campaign's lease_ttl
        finally:
            self.assertEqual(s.stop(), 0)
            s.cleanup()
        # An unknown option is named as such, value or not; a known one without a value says so.
        for args, message in ((["--bogus"], "unknown option '--bogus'"),
                              (["--bogus", "1"], "unknown option '--bogus'"),
                              (["--listen"], "--listen needs a value"),
                              (["--listen", "nohost"], "configuration: flag: CIDROT_LISTEN: missing "
                                                       "port (expected")):
            bad = subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=10)
            self.assertEqual(bad.returncode, 2, args)
            self.assertIn(message, bad.stderr)
        # A bad file stops the server at start (exit 2) with a message naming campaign and key.
        with open(path, "w") as f:
            json.dump({"local": {"lease_ttl": 0}}, f)
        bad = subprocess.run([SERVER, "--campaigns-file", path, "--listen", "127.0.0.1:0"],
                             capture_output=True, text=True, timeout=30, cwd=d,
                             env={"PATH": os.environ.get("PATH", ""), "CIDROT_STORE": "memory://"})
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("campaign 'local': lease_ttl: must be 1..86400", bad.stderr)
        shutil.rmtree(d, ignore_errors=True)

    def test_admin_routes_refuse_without_a_token(self):
        s = Server(token=None)
        try:
            status, body = s.json("GET", "/api/stats", headers={"Authorization": "Bearer x"})
            self.assertEqual(status, 403)
            self.assertIn("ADMIN_TOKEN", body["message"])
            self.assertEqual(s.request("GET", "/health")[0], 200)
        finally:
            self.assertEqual(s.stop(), 0)
            s.cleanup()


# --- docs/openapi.yaml against the server ---------------------------------------------------------

def load_openapi(path):
    with open(path) as f:
        text = f.read()
    try:
        import yaml  # noqa: PLC0415
        return yaml.safe_load(text)
    except ImportError:
        pass
    # Without PyYAML: read just paths -> methods -> responses -> codes by indentation.
    spec = {"paths": {}}
    path = method = None
    in_paths = in_responses = False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        key = line.strip().split(":")[0].strip("'\"")
        if indent == 0:
            in_paths = key == "paths"
            continue
        if not in_paths:
            continue
        if indent == 2:
            path = key
            spec["paths"][path] = {}
        elif indent == 4:
            method = key
            spec["paths"][path][method] = {"responses": {}}
            in_responses = False
        elif indent == 6:
            in_responses = key == "responses"
        elif indent == 8 and in_responses and method:
            spec["paths"][path][method]["responses"][key] = {}
    return spec


class DocsTest(unittest.TestCase):
    """Every route in docs/openapi.yaml exists and answers each documented status code."""

    # 503 means the store is unreachable: not reproducible with a local file store.
    UNTRIGGERABLE = {"503"}

    def test_openapi_matches_server(self):
        spec = load_openapi(os.path.join(DOCS, "openapi.yaml"))
        self.assertTrue(spec["openapi"].startswith("3."))
        s = Server()
        nota = Server(token=None)
        limited = Server(env={"RATE_LIMIT_PER_AGENT": "1"})
        try:
            import_numbers(s, ["2125550100", "2125550101"], campaigns="docs")
            import_numbers(limited, ["2125550100"])
            json_h = {"Content-Type": "application/json"}
            form_h = {"Content-Type": "application/x-www-form-urlencoded"}

            def lease():
                return s.json("GET", "/next-cid?" + q(to="2125551234", campaign="docs"))[1]

            def next_200():
                st, b = s.json("GET", "/next-cid?" + q(to="2125551234", campaign="docs"))
                s.request("POST", "/release", json.dumps({"reservation_id": b["reservation_id"]}),
                          json_h)
                return st

            def next_409():
                lease(), lease()
                st = s.request("GET", "/next-cid?" + q(to="2125551234", campaign="docs"))[0]
                for n in ("2125550100", "2125550101"):
                    s.request("DELETE", f"/api/reservation/{n}", admin=True)
                return st

            def add_200():
                s.request("POST", "/add-number", '{"caller_id": "3125550100"}', json_h, True)
                return s.request("POST", "/add-number", '{"caller_id": "3125550100"}', json_h,
                                 True)[0]

            def next_429():
                limited.request("GET", "/next-cid?" + q(to="2125551234", campaign="c", agent="a"))
                return limited.request("GET", "/next-cid?" + q(to="2125551234", campaign="c",
                                                               agent="a"))[0]

            def import_413():
                return parse_responses(raw_exchange(s.port, (
                    f"POST /api/numbers/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"
                    f"\r\nContent-Length: 40000000\r\n\r\n").encode()))[0][0]

            def add_413():
                return parse_responses(raw_exchange(s.port, (
                    f"POST /add-number HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"
                    f"\r\nContent-Length: 1000000\r\n\r\n").encode()))[0][0]

            def patch_200():
                s.request("POST", "/add-number", '{"caller_id": "3125550101"}', json_h, True)
                return s.request("PATCH", "/api/numbers/3125550101", '{"hourly_limit": 5}',
                                 json_h, True)[0]

            def delete_200():
                s.request("POST", "/add-number", '{"caller_id": "3125550102"}', json_h, True)
                return s.request("DELETE", "/api/numbers/3125550102", admin=True)[0]

            recipes = {
                ("/next-cid", "get", "200"): next_200,
                ("/next-cid", "get", "400"): lambda: s.request("GET", "/next-cid?campaign=x")[0],
                ("/next-cid", "get", "409"): next_409,
                ("/next-cid", "get", "429"): next_429,
                ("/release", "post", "200"):
                    lambda: s.request("POST", "/release", "caller_id=2125550100", form_h)[0],
                ("/release", "post", "400"): lambda: s.request("POST", "/release", "", form_h)[0],
                ("/health", "get", "200"): lambda: s.request("GET", "/health")[0],
                ("/metrics", "get", "200"): lambda: s.request("GET", "/metrics")[0],
                ("/add-number", "post", "201"):
                    lambda: s.request("POST", "/add-number", "caller_id=3125550199", form_h,
                                      True)[0],
                ("/add-number", "post", "200"): add_200,
                ("/add-number", "post", "400"):
                    lambda: s.request("POST", "/add-number", "{", json_h, True)[0],
                ("/add-number", "post", "413"): add_413,
                ("/api/reservation/{caller_id}", "delete", "200"):
                    lambda: s.request("DELETE", "/api/reservation/2125550100", admin=True)[0],
                ("/api/reservation/{caller_id}", "delete", "400"):
                    lambda: s.request("DELETE", "/api/reservation/12", admin=True)[0],
                ("/api/reservation/{caller_id}", "delete", "404"):
                    lambda: s.request("DELETE", "/api/reservation/9175550100", admin=True)[0],
                ("/api/reservations", "get", "200"):
                    lambda: s.request("GET", "/api/reservations", admin=True)[0],
                ("/api/reservations", "get", "400"):
                    lambda: s.request("GET", "/api/reservations?limit=0", admin=True)[0],
                ("/api/numbers", "get", "200"):
                    lambda: s.request("GET", "/api/numbers?active=true", admin=True)[0],
                ("/api/numbers", "get", "400"):
                    lambda: s.request("GET", "/api/numbers?sort=x", admin=True)[0],
                ("/api/numbers/{caller_id}", "get", "200"):
                    lambda: s.request("GET", "/api/numbers/2125550100", admin=True)[0],
                ("/api/numbers/{caller_id}", "get", "400"):
                    lambda: s.request("GET", "/api/numbers/x", admin=True)[0],
                ("/api/numbers/{caller_id}", "get", "404"):
                    lambda: s.request("GET", "/api/numbers/9175550100", admin=True)[0],
                ("/api/numbers/{caller_id}", "patch", "200"): patch_200,
                ("/api/numbers/{caller_id}", "patch", "400"):
                    lambda: s.request("PATCH", "/api/numbers/2125550100", "{}", json_h, True)[0],
                ("/api/numbers/{caller_id}", "patch", "404"):
                    lambda: s.request("PATCH", "/api/numbers/9175550100", '{"active": true}',
                                      json_h, True)[0],
                ("/api/numbers/{caller_id}", "delete", "200"): delete_200,
                ("/api/numbers/{caller_id}", "delete", "400"):
                    lambda: s.request("DELETE", "/api/numbers/x", admin=True)[0],
                ("/api/numbers/{caller_id}", "delete", "404"):
                    lambda: s.request("DELETE", "/api/numbers/9175550100", admin=True)[0],
                ("/api/numbers/import", "post", "200"):
                    lambda: s.request("POST", "/api/numbers/import", "4045550100\n", admin=True)[0],
                ("/api/numbers/import", "post", "400"):
                    lambda: s.request("POST", "/api/numbers/import", "caller_id,nope\n",
                                      admin=True)[0],
                ("/api/numbers/import", "post", "413"): import_413,
                ("/api/stats", "get", "200"):
                    lambda: s.request("GET", "/api/stats", admin=True)[0],
            }
            documented = set()
            for path, ops in spec["paths"].items():
                for method, op in ops.items():
                    if method not in ("get", "post", "put", "patch", "delete"):
                        continue
                    url_path = path.replace("{caller_id}", "9175550199")  # not in the pool
                    # The route exists: a request without parameters is not "no route" or 405.
                    st, h, body = s.request(method.upper(), url_path,
                                            headers={"Authorization": "Bearer " + TOKEN})
                    self.assertNotEqual(st, 405, (method, path))
                    if h.get("content-type", "").startswith("application/json"):
                        self.assertNotEqual(json.loads(body).get("error"), "no_route",
                                            (method, path))
                    for code in op["responses"]:
                        code = str(code)
                        documented.add((path, method, code))
                        with self.subTest(route=f"{method.upper()} {path}", status=code):
                            if code in self.UNTRIGGERABLE:
                                continue
                            if code == "401":
                                got = s.request(method.upper(), url_path)[0]
                            elif code == "403":
                                got = nota.request(method.upper(), url_path,
                                                   headers={"Authorization": "Bearer x"})[0]
                            else:
                                self.assertIn((path, method, code), recipes,
                                              "documented status with no test recipe")
                                got = recipes[(path, method, code)]()
                            self.assertEqual(str(got), code)
            undocumented = set(recipes) - documented
            self.assertEqual(undocumented, set(), "recipes for statuses the docs do not list")
        finally:
            for srv in (s, nota, limited):
                code = srv.stop()
                srv.cleanup()
                self.assertEqual(code, 0)


@contextlib.contextmanager
def locked_store_server(case, url_query, env=None, args=()):
    """A server on its own SQLite file; yields (server, lock) where lock() takes the file's write
    lock from this process (as another process's long write would) until the server stops."""
    path = os.path.join(tempfile.mkdtemp(prefix="cidrot-locked-"), "locked.db")
    s = Server(env={"CIDROT_STORE": f"sqlite://{path}?{url_query}", **(env or {})}, args=args)
    holders = []

    def lock():
        holder = sqlite3.connect(path, isolation_level=None)
        holders.append(holder)
        holder.execute("BEGIN IMMEDIATE")
        return holder

    try:
        yield s, lock
    finally:
        for holder in holders:
            holder.close()
        code = s.stop()
        s.cleanup()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    case.assertEqual(code, 0)


class StoreHealthTest(unittest.TestCase):
    """/health reports a write path that fails while reads still work."""

    def test_health_is_503_while_leases_fail_on_a_locked_store(self):
        with locked_store_server(self, "busy_timeout_ms=200") as (s, lock):
            import_numbers(s, ["2125550160", "2125550161"], campaigns="lock")
            self.assertEqual(s.json("GET", "/health")[0], 200)
            # Another process's long write (an import, say) holds the write lock past the
            # server's busy_timeout_ms. Reads go on (WAL), so a read check alone would pass.
            holder = lock()
            status, body = s.json("GET", "/next-cid?" + q(to="2125551234", campaign="lock"))
            self.assertEqual((status, body["error"]), (503, "backend_unavailable"), body)
            status, body = s.json("GET", "/health")
            self.assertEqual((status, body["status"], body["store"]), (503, "unhealthy", "ok"),
                             body)
            self.assertTrue(body["writes"].startswith("failing: "), body)
            self.assertIn("locked", body["writes"])
            holder.execute("ROLLBACK")
            status, body = s.json("GET", "/next-cid?" + q(to="2125551234", campaign="lock"))
            self.assertEqual(status, 200, body)
            status, body = s.json("GET", "/health")
            self.assertEqual((status, body["status"]), (200, "healthy"), body)
            self.assertNotIn("writes", body)

    def test_a_locked_store_costs_each_request_one_timeout_not_one_per_request_ahead(self):
        # 3 general workers, each store call blocked by another process's write lock for up to
        # 2 s (busy_timeout_ms 1 s, twice: its group commit waits for the batch ahead of it).
        # Without a queue timeout 12 concurrent releases come back in waves, the last after
        # ~8 s; requests that waited past --queue-timeout-ms for a worker get their 503 as soon
        # as a worker takes them, so none waits for more than one store call.
        with locked_store_server(self, "busy_timeout_ms=1000", env={"CIDROT_THREADS": "4"},
                                 args=("--queue-timeout-ms", "300")) as (s, lock):
            import_numbers(s, ["2125550170"], campaigns="queue")
            holder = lock()
            results = []

            def release():
                c = s.conn(timeout=30)
                t0 = time.time()
                status, _, body = s.request("POST", "/release?" + q(caller_id="2125550170"),
                                            conn=c)
                results.append((status, time.time() - t0, json.loads(body)))
                c.close()

            threads = [threading.Thread(target=release) for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            holder.execute("ROLLBACK")
            self.assertEqual({r[0] for r in results}, {503}, results)
            self.assertEqual({r[2]["error"] for r in results}, {"backend_unavailable"})
            self.assertTrue(any("no worker was free within 300 ms" in r[2]["message"]
                                for r in results), results)
            slowest = max(r[1] for r in results)
            self.assertLess(slowest, 3.0, results)  # one store call (2 s), not one per wave
            # The store is back: the same server answers at once.
            self.assertEqual(s.json("GET", "/next-cid?" + q(to="2125551234",
                                                            campaign="queue"))[0], 200)


class ZzNo5xxTest(unittest.TestCase):
    """Runs last (unittest orders classes by name): nothing above produced a 5xx."""

    def test_no_5xx_anywhere(self):
        _, _, body = MAIN.request("GET", "/metrics")
        fives = [line for line in body.decode().splitlines()
                 if line.startswith("cidrot_http_requests_total") and 'status="5' in line]
        self.assertEqual(fives, [])
        self.assertNotIn(" ERROR ", MAIN.logs())


def main():
    global SERVER, DOCS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="path to the cidrot-server binary")
    parser.add_argument("--docs", required=True, help="the docs/ folder (openapi.yaml)")
    args, rest = parser.parse_known_args()
    SERVER = os.path.abspath(args.server)
    DOCS = os.path.abspath(args.docs)
    result = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()

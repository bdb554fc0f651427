"""The attacks of issue 15, as functions of a target (host, port): loopback only, bounded in count and time.

Used by the load-and-abuse tests (tests/load/test_abuse.py) and by hand
against any server (``python tests/load/attacks.py --port 8080 ...``, see
the README). Each returns plain figures; none asserts anything.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import threading
import time
from pathlib import Path

__all__ = ["big_bodies", "corridor_url", "get", "latency_during", "probe_while", "rss_mb", "slowloris"]

ALL_WITH = ("places,boundaries,casa1000,cpec,energy_projects,iran_pakistan_pipeline,lng_terminals,"
            "north_south_pipeline,pakistan_gas_grid,ports,tapi,thar_lahore_hvdc")


def corridor_url(i, *, width_km=500, page=False):
    """The i-th distinct wide corridor (width varies by a metre each, so no two share a cached result)."""
    path = "/corridor" if page else "/api/corridor"
    return f"{path}?feature=tapi:tapi_trunk&width_km={width_km - i * 0.001:.3f}&with={ALL_WITH}"


def get(host, port, path, *, timeout=60, source=None, headers=None):
    """(status, seconds, headers dict, body bytes) of one GET; status None on a network error."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(source, 0) if source else None)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, time.perf_counter() - started, dict(response.getheaders()), body
    except (OSError, http.client.HTTPException):
        return None, time.perf_counter() - started, {}, b""
    finally:
        conn.close()


def slowloris(host, port, *, sockets, duration_s, interval_s=10.0, source="127.0.0.3", stop=None):
    """Hold ``sockets`` connections sending one header line every ``interval_s``; reopen closed ones.

    Returns {"opened", "closed_by_server", "max_open"}.
    """
    figures = {"opened": 0, "closed_by_server": 0, "max_open": 0}
    conns = []

    def open_one():
        try:
            sock = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            figures["opened"] += 1
            return sock
        except OSError:
            return None

    deadline = time.monotonic() + duration_s
    conns = [s for s in (open_one() for _ in range(sockets)) if s]
    n = 0
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        figures["max_open"] = max(figures["max_open"], len(conns))
        alive = []
        for sock in conns:
            try:
                sock.sendall(f"X-a{n}: b\r\n".encode())
                alive.append(sock)
            except OSError:
                figures["closed_by_server"] += 1
                sock.close()
        conns = alive + [s for s in (open_one() for _ in range(sockets - len(alive))) if s]
        n += 1
        time.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))
    for sock in conns:
        sock.close()
    return figures


def probe_while(host, port, attack, *, path="/api/layers/tapi", interval_s=0.5, timeout=5, source="127.0.0.2"):
    """Run ``attack()`` in a thread and probe ``path`` every ``interval_s`` until it ends.

    Returns {"probes", "answered_200", "within_1s", "latencies_s"}.
    """
    done = threading.Event()
    result = {}

    def run():
        try:
            result["attack"] = attack()
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(min(2.0, interval_s * 4))  # let the attack take hold
    latencies = []
    statuses = []
    while not done.is_set():
        status, seconds, _, _ = get(host, port, path, timeout=timeout, source=source)
        statuses.append(status)
        latencies.append(seconds)
        time.sleep(interval_s)
    thread.join()
    ok = [s for s, t in zip(statuses, latencies) if s == 200]
    return {"probes": len(statuses), "answered_200": len(ok),
            "within_1s": sum(1 for s, t in zip(statuses, latencies) if s == 200 and t <= 1.0),
            "latencies_s": latencies, "attack": result.get("attack")}


def _one_big_body(host, port, size, chunked, out):
    started = time.perf_counter()
    sent = 0
    status = None
    sock = socket.create_connection((host, port), timeout=30)
    try:
        head = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
        sock.sendall(head.encode())
        block = b"x" * (1 << 20)
        sock.settimeout(0.05)
        while sent < size:
            try:
                reply = sock.recv(4096)
                if reply:
                    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else status
                break  # the server answered (or closed): stop sending
            except TimeoutError:
                pass
            except OSError:
                break
            piece = block if not chunked else b"%x\r\n" % len(block) + block + b"\r\n"
            try:
                sock.settimeout(30)
                sock.sendall(piece)
                sock.settimeout(0.05)
            except OSError:
                break
            sent += len(block)
        if status is None:
            sock.settimeout(30)
            try:
                reply = sock.recv(4096)
                status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else None
            except (OSError, ValueError, IndexError):
                pass
    finally:
        sock.close()
    out.append({"status": status, "mb_sent": round(sent / 2**20, 1), "seconds": round(time.perf_counter() - started, 2)})


def big_bodies(host, port, *, count=4, size=10**9, chunked=False):
    """``count`` concurrent POSTs of ``size``-byte bodies to ``/``; how much each sent before the answer."""
    out = []
    threads = [threading.Thread(target=_one_big_body, args=(host, port, size, chunked, out)) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return out


def latency_during(host, port, heavy_paths, *, cheap_path="/api/layers/tapi", interval_s=0.05, timeout=120,
                   source="127.0.0.2"):
    """Fire every heavy path at once (one client each) and time cheap requests until they are all answered.

    Returns {"heavy_statuses", "heavy_s", "cheap_n", "cheap_ok", "cheap_p50_ms", "cheap_p95_ms", "cheap_max_ms"}.
    """
    heavy = []

    def one(path):
        status, seconds, headers, _ = get(host, port, path, timeout=timeout, source="127.0.0.4")
        heavy.append((status, seconds, headers.get("Retry-After")))

    threads = [threading.Thread(target=one, args=(p,)) for p in heavy_paths]
    started = time.perf_counter()
    for t in threads:
        t.start()
    cheap = []
    while any(t.is_alive() for t in threads):
        status, seconds, _, _ = get(host, port, cheap_path, timeout=30, source=source)
        cheap.append((status, seconds))
        time.sleep(interval_s)
    for t in threads:
        t.join()
    times = sorted(s for _, s in cheap) or [0.0]
    return {
        "heavy_statuses": sorted(str(s) for s, _, _ in heavy), "heavy_s": round(time.perf_counter() - started, 1),
        "heavy_retry_after": sorted({r for s, _, r in heavy if s == 503}),
        "cheap_n": len(cheap), "cheap_ok": sum(1 for s, _ in cheap if s == 200),
        "cheap_p50_ms": round(1000 * statistics.median(times), 1),
        "cheap_p95_ms": round(1000 * times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "cheap_max_ms": round(1000 * times[-1], 1),
    }


def rss_mb(pids):
    """Resident memory (MB) of ``pids`` together, from /proc."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def children(pid):
    """Every descendant pid of ``pid`` (and itself)."""
    found, queue = [], [pid]
    while queue:
        p = queue.pop()
        found.append(p)
        try:
            queue += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            pass
    return found


def main(argv=None):
    """By hand: run the attacks against a server on 127.0.0.1 and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, help="server process (its children are counted too) for RSS")
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--slowloris-s", type=float, default=60)
    parser.add_argument("--corridors", type=int, default=24)
    parser.add_argument("--pages", type=int, default=160, help="distinct wide corridor pages for the RSS figure")
    parser.add_argument("--body-bytes", type=int, default=10**9, help="size of each of the 4 bodies (1 GB)")
    parser.add_argument("--only", help="comma list of: slowloris,bodies,corridors,pages")
    args = parser.parse_args(argv)
    host, port = "127.0.0.1", args.port
    only = set(args.only.split(",")) if args.only else {"slowloris", "bodies", "corridors", "pages"}
    report = {}
    if "slowloris" in only:
        probes = probe_while(host, port, lambda: slowloris(host, port, sockets=args.sockets,
                                                           duration_s=args.slowloris_s))
        report["slowloris"] = {k: v for k, v in probes.items() if k != "latencies_s"}
    if "bodies" in only:
        report["bodies_1gb"] = big_bodies(host, port, size=args.body_bytes)
    if "corridors" in only:
        report["corridors"] = latency_during(host, port, [corridor_url(i) for i in range(args.corridors)])
    if "pages" in only and args.pid:
        before = rss_mb(children(args.pid))
        statuses = [get(host, port, corridor_url(i, page=True), timeout=600)[0] for i in range(args.pages)]
        report["pages"] = {"rss_before_mb": before, "rss_after_mb": rss_mb(children(args.pid)),
                           "statuses": {str(s): statuses.count(s) for s in set(statuses)}}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

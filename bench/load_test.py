"""Load test of `rnnkit serve`: concurrent clients typing queries, keystroke by keystroke.

Starts ``rnnkit serve RUN`` on a free localhost port (or uses ``--url``), then runs
``--clients`` clients for ``--seconds``: each one types sentences letter by letter and asks
``/complete`` after every keystroke, waiting for each answer before the next (a request that
takes over ``--timeout`` seconds counts as failed). Prints requests per second, latency p50 and
p99 as the clients saw it, failures, and the server's own batching figures from /healthz.

``--flood``: the clients POST /feedback as fast as they can instead (a hostile client steering
the next training); the server runs with ``--feedback`` and ``--serve-options``. Prints the
answers by status and the feedback rows the server added (its /healthz).

usage: python bench/load_test.py RUN [--clients 32] [--seconds 10] [--int8]
       python bench/load_test.py --url http://127.0.0.1:8000
       python bench/load_test.py RUN --flood --clients 8 --serve-options "--store q.db"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections import Counter

import httpx

SENTENCES = [
    "Return the number of items in the list",
    "If the file does not exist an error is raised",
    "Create a new dictionary with keys from the iterable",
    "This function is called when the object is deleted",
    "Read and return the next line from the file",
    "The default value is used if the argument is omitted",
    "Convert the string to a list of words",
    "What is the best food to eat in Las Vegas",
]


class Connection:
    """One keep-alive HTTP/1.1 connection, spoken by hand: a client that costs the shared CPU
    far less than a full HTTP library, so the server's own cost is what the test measures."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, post: bytes | None = None) -> tuple[int, bytes]:
        """GET ``path``, or POST the JSON ``post`` to it: (status, body)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        if post is None:
            head = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n"
        else:
            head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: "
                    f"application/json\r\nContent-Length: {len(post)}\r\n\r\n")  # fmt: skip
        self.writer.write(head.encode() + (post or b""))
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(v) for k, _, v in (line.partition(":") for line in lines[1:])
                      if k.lower() == "content-length")  # fmt: skip
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def client(url: str, start: int, deadline: float, timeout: float, latencies, failures):
    """Types sentences letter by letter, asking /complete after each keystroke."""
    parts = urllib.parse.urlsplit(url)
    connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
    i = start
    while time.perf_counter() < deadline:
        sentence = SENTENCES[i % len(SENTENCES)]
        i += 1
        for n in range(1, len(sentence) + 1):
            if time.perf_counter() >= deadline:
                break
            path = "/complete?" + urllib.parse.urlencode({"q": sentence[:n], "k": 5})
            began = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(connection.get(path), timeout)
                ok = status == 200 and "words" in json.loads(body)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                connection.close()  # a broken or late answer: start a new connection
                ok = False
            if ok:
                latencies.append((time.perf_counter() - began) * 1e3)
            else:
                failures.append(sentence[:n])
    connection.close()


async def flooder(url: str, start: int, deadline: float, timeout: float, statuses: Counter):
    """POSTs /feedback as fast as the server answers, each a new text, counting the statuses."""
    parts = urllib.parse.urlsplit(url)
    connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
    i = start
    while time.perf_counter() < deadline:
        i += 1000
        body = json.dumps({"query": "las", "completion": f"las vegas steer {i}"}).encode()
        try:
            status, _ = await asyncio.wait_for(connection.get("/feedback", body), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            connection.close()
            status = 0  # no answer
        statuses[status] += 1
    connection.close()


async def flood(url: str, clients: int, seconds: float, timeout: float) -> dict:
    statuses: Counter[int] = Counter()
    before = httpx.get(url + "/healthz").json()["feedback"]
    began = time.perf_counter()
    deadline = began + seconds
    await asyncio.gather(*(flooder(url, c, deadline, timeout, statuses) for c in range(clients)))
    after = httpx.get(url + "/healthz").json()["feedback"]
    return {"statuses": statuses, "elapsed": time.perf_counter() - began,
            "added": after["rows"] - before["rows"], "feedback": after}  # fmt: skip


async def load(url: str, clients: int, seconds: float, timeout: float) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    before = httpx.get(url + "/healthz").json()["batching"]
    began = time.perf_counter()
    deadline = began + seconds
    await asyncio.gather(
        *(client(url, c, deadline, timeout, latencies, failures) for c in range(clients))
    )
    elapsed = time.perf_counter() - began
    health = httpx.get(url + "/healthz").json()
    after = health["batching"]
    batches = after["batches"] - before["batches"]
    served = after["requests"] - before["requests"]
    return {
        "latencies": sorted(latencies),
        "failures": failures,
        "elapsed": elapsed,
        "mean_batch": served / batches if batches else 0.0,
        "largest_batch": after["largest_batch"],
        "health": health,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(run: str, int8: bool, threads: int, options: list[str]):
    port = free_port()
    rnnkit = os.path.join(os.path.dirname(sys.executable), "rnnkit")
    command = [rnnkit, "serve", run, "--port", str(port), "--threads", str(threads), *options]
    process = subprocess.Popen([*command, *(["--int8"] if int8 else [])])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None:
                sys.exit(f"rnnkit serve exited with {process.returncode}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", help="a word-level rnnkit train lm run to serve")
    parser.add_argument("--url", help="an rnnkit serve already running")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    parser.add_argument("--int8", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    parser.add_argument("--flood", action="store_true", help="POST /feedback instead")
    parser.add_argument("--serve-options", default="", help='more for rnnkit serve: "--store q.db"')
    args = parser.parse_args()
    if (args.run is None) == (args.url is None):
        parser.error("give a RUN to serve or the --url of a running server")
    options = [*(["--feedback"] if args.flood else []), *shlex.split(args.serve_options)]
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(server(args.run, args.int8, args.threads, options))
        if args.flood:
            report_flood(args, url, asyncio.run(flood(url, args.clients, args.seconds, 5.0)))
            return
        result = asyncio.run(load(url, args.clients, args.seconds, args.timeout))
    ms, failed = result["latencies"], len(result["failures"])
    health = result["health"]
    print(f"{args.clients} clients for {result['elapsed']:.1f} s against {url} "
          f"({health['model']}, V={health['vocab_size']:,}, int8={health['int8']})")  # fmt: skip
    print(f"requests: {len(ms):,} ok, {failed} failed; {len(ms) / result['elapsed']:,.0f} req/s")
    if ms:
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(f"latency seen by clients: p50 {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms")
    hit_rate = health["cache"]["hit_rate"]
    print(f"server batching: mean batch {result['mean_batch']:.1f}, largest "
          f"{result['largest_batch']}; cache hit rate {hit_rate:.0%}")  # fmt: skip
    if failed:
        sys.exit(1)


def report_flood(args: argparse.Namespace, url: str, result: dict) -> None:
    statuses, feedback = result["statuses"], result["feedback"]
    shown = ", ".join(f"{n:,} x {status or 'no answer'}" for status, n in sorted(statuses.items()))
    print(f"{args.clients} clients flooding POST /feedback for {result['elapsed']:.1f} s "
          f"against {url}: {statuses.total():,} requests ({shown})")  # fmt: skip
    print(f"feedback rows added: {result['added']:,} (limits: {feedback['per_minute']:,} a "
          f"minute, {feedback['max_rows']:,} rows and {feedback['max_bytes']:,} bytes a run); "
          f"store {feedback['store']}")  # fmt: skip


if __name__ == "__main__":
    main()

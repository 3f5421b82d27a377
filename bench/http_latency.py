"""Latency over HTTP: `GET /v1/articles/<id>/similar` against `GET /healthz` on the same server.

Starts `python -m service serve` on 127.0.0.1 over DATA_DIR (default ./data, filled by `make run`),
sends a bounded number of sequential requests to each route, prints median and p99 and their ratio.
Three kinds of similar answers, each article asked once per kind:
- precomputed: the default options, whose answers `rebuild` computed ahead (the answer file);
- computed: the same with a filter no rebuild warms (`exclude_source`), so computed at the request;
- repeat: the computed ones asked again, from the worker's memory.

    python -m bench.http_latency [--requests 500] [--k 10]
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
from urllib.parse import quote

from bench.serving import cpu_seconds, serving, timed_get


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    with serving() as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ids: list[str] = []
        for offset in range(0, args.requests + 40, 100):
            connection.request("GET", f"/v1/articles?limit=100&offset={offset}")
            ids += [a["id"] for a in json.loads(connection.getresponse().read())["items"]]
        connection.request("GET", "/healthz")
        health = json.loads(connection.getresponse().read())
        connection.close()
        rng = random.Random(7)
        rng.shuffle(ids)
        similar = [f"/v1/articles/{quote(i, safe='')}/similar?k={args.k}" for i in ids]
        computed = [f"{path}&exclude_source=bench-no-such-source" for path in similar]
        for path in computed[-20:]:  # warm-up, on articles not measured below
            timed_get(port, path)
        # Interleave the routes so that both see the same machine state.
        times: dict[str, list[float]] = {"GET /healthz": [], "precomputed": [], "computed": [], "repeat": []}
        for i in range(args.requests):
            times["GET /healthz"].append(timed_get(port, "/healthz"))
            times["precomputed"].append(timed_get(port, similar[i]))
            times["computed"].append(timed_get(port, computed[i]))
        for path in computed[: args.requests]:  # the same again: answers cached until the next write
            times["repeat"].append(timed_get(port, path))
        # The server's CPU time a request, each route in a block of its own (computed: articles not
        # asked for above): what a request costs, however busy the machine is with other work.
        spare = ids[args.requests : 2 * args.requests] or ids
        blocks = {"GET /healthz": ["/healthz"] * len(spare),
                  "computed": [f"/v1/articles/{quote(i, safe='')}/similar?k={args.k}&exclude_source=bench-cpu"
                               for i in spare]}
        cpu = {}
        for name, paths in blocks.items():
            before = cpu_seconds(port)
            for path in paths:
                timed_get(port, path)
            cpu[name] = (cpu_seconds(port) - before) / len(paths)

    print(f"index: {health['indexed']} articles, model {health['model']}; {args.requests} requests per route, k={args.k}")
    health_times = times["GET /healthz"]
    for name, measured in times.items():
        ratio = statistics.median(measured) / statistics.median(health_times)
        print(f"{name:13s} median {statistics.median(measured) * 1000:7.2f} ms   p99 "
              f"{percentile(measured, 0.99) * 1000:7.2f} ms   median/healthz {ratio:5.2f}x")
    print(f"server CPU a request ({len(spare)} each): /healthz {cpu['GET /healthz'] * 1000:.2f} ms, "
          f"computed similar {cpu['computed'] * 1000:.2f} ms ({cpu['computed'] / cpu['GET /healthz']:.2f}x)")


if __name__ == "__main__":
    main()

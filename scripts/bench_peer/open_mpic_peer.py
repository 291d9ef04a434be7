#!/usr/bin/env python3
"""The peer's side of `scripts/bench peer`: Open MPIC's reference
coordinator (open-mpic-core 6.5.0, from PyPI) measured the way our load
benchmark measures ours. Run by scripts/bench in a virtual environment it
makes; prints one JSON object per run on stdout.

  coordinator  MpicCoordinator with six in-process perspectives (2 ARIN, 2
               RIPE NCC, 2 APNIC) that answer a passing CAA response at once,
               or, with --late K, K of them after --late-ms. Reports
               decisions/s, process CPU ms per decision (time.process_time,
               which is all this process does: the perspectives are free
               coroutines), and p50/p99 latency.
  climb        MpicCaaChecker's CAA lookup of a name with --labels labels
               and no CAA record anywhere, through a loopback UDP resolver
               that answers every question after --delay-ms. Reports p50/p99
               of one lookup (the reference climbs one name at a time).

Every run is bounded by its --checks; the resolver listens on 127.0.0.1
only and stops with the run.
"""

import argparse
import asyncio
import json
import statistics
import time

import dns.message
import dns.rcode
from open_mpic_core import (
    CaaCheckRequest,
    CaaCheckResponse,
    CaaCheckResponseDetails,
    MpicCaaChecker,
    MpicCaaRequest,
    MpicCoordinator,
    MpicCoordinatorConfiguration,
    RemotePerspective,
)

PERSPECTIVES = [
    ("us-east", "ARIN"),
    ("us-west", "ARIN"),
    ("eu-west", "RIPE NCC"),
    ("eu-central", "RIPE NCC"),
    ("ap-southeast", "APNIC"),
    ("ap-northeast", "APNIC"),
]


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_coordinator(checks, concurrency, late, late_ms):
    perspectives = [RemotePerspective(code=code, rir=rir) for code, rir in PERSPECTIVES]
    late_codes = {code for code, _ in PERSPECTIVES[:late]}

    async def call(perspective, check_type, check_request):
        if perspective.code in late_codes:
            await asyncio.sleep(late_ms / 1000)
        return CaaCheckResponse(
            check_passed=True,
            check_completed=True,
            details=CaaCheckResponseDetails(caa_record_present=False),
            timestamp_ns=time.time_ns(),
        )

    coordinator = MpicCoordinator(
        call,
        MpicCoordinatorConfiguration(perspectives, 6, 1, "bench-secret"),
    )
    gate = asyncio.Semaphore(concurrency)
    latencies = []
    valid = 0

    async def one(n):
        nonlocal valid
        async with gate:
            started = time.perf_counter()
            response = await coordinator.coordinate_mpic(
                MpicCaaRequest(domain_or_ip_target=f"c{n}.load.example")
            )
            latencies.append((time.perf_counter() - started) * 1000)
            valid += bool(response.is_valid)

    cpu_start, wall_start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(checks)))
    cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
    return {
        "run": "coordinator",
        "checks": checks,
        "concurrency": concurrency,
        "late": late,
        "late_ms": late_ms,
        "valid": valid,
        "decisions_per_s": round(checks / wall, 1),
        "cpu_ms_per_decision": round(cpu * 1000 / checks, 3),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


class SlowEmptyResolver(asyncio.DatagramProtocol):
    """Answers every question NOERROR with no records, after a delay."""

    def __init__(self, delay_s):
        self.delay_s = delay_s
        self.transport = None
        self.questions = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.questions += 1
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.NOERROR)
        wire = response.to_wire()
        asyncio.get_running_loop().call_later(
            self.delay_s, lambda: self.transport.sendto(wire, addr)
        )


async def run_climb(checks, delay_ms, labels):
    loop = asyncio.get_running_loop()
    transport, resolver = await loop.create_datagram_endpoint(
        lambda: SlowEmptyResolver(delay_ms / 1000), local_addr=("127.0.0.1", 0)
    )
    try:
        port = transport.get_extra_info("sockname")[1]
        checker = MpicCaaChecker(["ca.example"], dns_timeout=2.0, dns_resolution_lifetime=5.0)
        checker.resolver.nameservers = ["127.0.0.1"]
        checker.resolver.port = port
        name = ".".join([f"l{i}" for i in range(labels - 2)] + ["climb", "example"])
        times = []
        for _ in range(checks):
            started = time.perf_counter()
            response = await checker.check_caa(CaaCheckRequest(domain_or_ip_target=name))
            times.append((time.perf_counter() - started) * 1000)
            assert response.check_passed, response
        return {
            "run": "climb",
            "name": name,
            "labels": labels,
            "delay_ms": delay_ms,
            "checks": checks,
            "questions_per_check": resolver.questions / checks,
            "p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(percentile(times, 0.99), 1),
        }
    finally:
        transport.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="run", required=True)
    coordinator = sub.add_parser("coordinator")
    coordinator.add_argument("--checks", type=int, default=20000)
    coordinator.add_argument("--concurrency", type=int, default=100)
    coordinator.add_argument("--late", type=int, default=0)
    coordinator.add_argument("--late-ms", type=int, default=1000)
    climb = sub.add_parser("climb")
    climb.add_argument("--checks", type=int, default=40)
    climb.add_argument("--delay-ms", type=int, default=20)
    climb.add_argument("--labels", type=int, default=5)
    args = parser.parse_args()
    if args.run == "coordinator":
        result = asyncio.run(
            run_coordinator(args.checks, args.concurrency, args.late, args.late_ms)
        )
    else:
        result = asyncio.run(run_climb(args.checks, args.delay_ms, args.labels))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

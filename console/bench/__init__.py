"""Benchmarks an operator can run on their own machine: figures beside a same-run baseline."""

from __future__ import annotations


def run_benchmark(name: str, rounds: int = 5) -> int:
    if name == "startup":
        from console.bench.startup import main

        return main(rounds)
    if name == "logs":
        from console.bench.logs import main as logs

        return logs()
    if name == "inbox":
        from console.bench.inbox import main as inbox

        return inbox(rounds=rounds)
    if name == "supervise":
        from console.bench.supervise import main as supervise

        return supervise(rounds=rounds)
    if name == "fleet":
        from console.bench.fleet import main as fleet

        return fleet(rounds=rounds)
    raise ValueError(f"no benchmark {name!r}")

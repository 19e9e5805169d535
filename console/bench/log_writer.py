"""The benchmarks' log producer: numbered lines, as fast as it can or at a steady rate.

Each line carries its number and the wall-clock time it was written (ns), so a
reader can check order and measure latency: ``<n> <time_ns> <padding>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

PADDING = "x" * 40


def flood(lines: int, chunk: int = 2000) -> None:
    out = sys.stdout.buffer
    for start in range(0, lines, chunk):
        now = time.time_ns()
        end = min(start + chunk, lines)
        out.write("".join(f"{n} {now} {PADDING}\n" for n in range(start, end)).encode())
    out.flush()


def steady(lines: int, rate: float) -> None:
    interval = 1.0 / rate
    deadline = time.monotonic()
    for n in range(lines):
        deadline += interval
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        os.write(1, f"{n} {time.time_ns()} {PADDING}\n".encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, help="lines a second (default: as fast as it can)")
    parser.add_argument("--linger", type=float, default=0.0, help="seconds to stay after writing")
    args = parser.parse_args()
    if args.rate:
        steady(args.lines, args.rate)
    else:
        flood(args.lines)
    time.sleep(args.linger)


if __name__ == "__main__":
    main()

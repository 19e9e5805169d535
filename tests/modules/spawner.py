"""A module that starts a grandchild (``sleep SECONDS``, from its init args) and leaves it."""

import os
import subprocess

from console.module import Module


def start_sleeper(seconds: str, log: str) -> None:
    sleeper = subprocess.Popen(["sleep", seconds])
    with open(log, "w") as handle:
        handle.write(f"{os.getpid()} {sleeper.pid}\n")


class Spawner(Module):
    async def init(self, args):
        start_sleeper(str(args["sleep"]), args["log"])


if __name__ == "__main__":
    Spawner.main()

"""A module that writes a lot to stdout and stderr, then answers like any other."""

import sys

from console.module import Module


class Chatty(Module):
    async def init(self, args):
        for _ in range(int(args.get("lines", 3000))):
            print("chatter " * 10, flush=False)
            print("noise " * 10, file=sys.stderr)
        sys.stdout.flush()


if __name__ == "__main__":
    Chatty.main()

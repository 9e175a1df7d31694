"""Delete the demo's objects and wait until they are gone, or until ``--until``.

    python3 scripts/demo_remove.py --until "$(($(date +%s) + 5))" job/hello-train ...

Uses SAPWOOD_URL and the CLI's saved token. Prints what is still stopping when time runs
out (the server finishes removing it on its next start) and always exits 0: the demo's
Ctrl-C must not hang on a server that no longer answers.
"""

from __future__ import annotations

import argparse
import sys
import time

from sapwood import Client
from sapwood.client.errors import NotFoundError, SapwoodError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # A wall-clock deadline, so the time this process takes to start counts too.
    parser.add_argument("--until", type=float, required=True, help="Unix time to give up")
    parser.add_argument("objects", nargs="+", help="KIND/NAME, e.g. job/hello-train")
    args = parser.parse_args(argv)
    within = args.until - time.time()
    deadline = time.monotonic() + within
    wanted = [tuple(o.split("/", 1)) for o in args.objects]
    left: list[str] = []
    try:
        # Short requests: a server that hangs must not hold Ctrl-C past the deadline.
        with Client(timeout_s=max(0.5, min(2.0, within / 3))) as client:
            for kind, name in wanted:
                try:
                    client.delete(kind, name)
                except NotFoundError:
                    pass
            while True:
                left = [f"{k}/{n}" for k, n in wanted if _exists(client, k, n)]
                if not left or time.monotonic() >= deadline:
                    break
                time.sleep(0.25)
    except SapwoodError as exc:
        print(f"could not remove the demo's objects: {exc}", file=sys.stderr)
        return 0
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, the server stops next
        print("skipped removing the demo's objects", file=sys.stderr)
        return 0
    if left:
        print(
            f"still stopping: {', '.join(left)} (the server finishes removing them when it "
            "next starts)",
            file=sys.stderr,
        )
    return 0


def _exists(client: Client, kind: str, name: str) -> bool:
    try:
        client.get(kind, name)
    except NotFoundError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())

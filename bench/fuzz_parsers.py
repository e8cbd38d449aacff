"""A longer fuzzing run of every protocol parser than the test suite's bounded one.

Feeds each target in ``tests/fuzz/targets.py`` (SMPP PDUs and the SMSC-side session, SIP,
SDP, RTP/telephone-event, call signalling) random mutations of its valid seed messages, and
random bytes, for ``--seconds`` per target; a parser may refuse an input only with its own
error, so any other exception is a crash. Mutations are byte flips, inserts, deletes, cuts,
repeats and splices with another seed, from a seeded generator so a run repeats.

    .venv/bin/python bench/fuzz_parsers.py [--seconds 20] [--seed 1]

Prints, per target, the inputs tried, their rate and the crashes (with the first bytes of
each distinct crashing input and the exception); exits 1 when anything crashed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz.targets import SEEDS, TARGETS


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    if rng.random() < 0.1:
        return rng.randbytes(rng.randint(0, 512))
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 10)):
        edit = rng.randrange(6)
        at = rng.randint(0, len(data)) if data else 0
        if edit == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif edit == 1:
            data[at:at] = rng.randbytes(rng.randint(1, 16))
        elif edit == 2:
            del data[at : at + rng.randint(1, 16)]
        elif edit == 3:
            del data[at:]
        elif edit == 4:
            data[at:at] = data[at : at + rng.randint(1, 64)]
        else:
            other = rng.choice(seeds)
            cut = rng.randint(0, len(other))
            data[at:] = other[cut:]
    return bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=sorted(TARGETS), action="append")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failed = False
    print(f"{'target':<14}{'inputs':>10}{'inputs/s':>11}{'crashes':>9}")
    for name in args.only or list(TARGETS):
        target, seeds = TARGETS[name], SEEDS[name]
        tried = crashes = 0
        distinct: dict[str, bytes] = {}
        deadline = time.perf_counter() + args.seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            for _ in range(200):
                data = mutate(rng, seeds)
                tried += 1
                try:
                    target(data)
                except Exception as exc:
                    crashes += 1
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    distinct.setdefault(
                        f"{type(exc).__name__} at {where.filename}:{where.lineno}", data
                    )
        rate = tried / (time.perf_counter() - started)
        print(f"{name:<14}{tried:>10,}{rate:>11,.0f}{crashes:>9}")
        for site, data in distinct.items():
            failed = True
            print(f"  {site}\n    input: {data[:80]!r}{'…' if len(data) > 80 else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

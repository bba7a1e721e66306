#!/usr/bin/env python3
# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""Writes a caller-ID CSV in the seed format for import benchmarks.

    python3 bench/gen_csv.py 100000 /tmp/100k.csv
    python3 bench/gen_csv.py 1000000 /tmp/1m.csv --bad-every 1000

Rows are unique, valid NANP numbers spread over 40 busy area codes, with the mix of fields a real
file has: carriers, some empty area codes (derived on import), limits or empty (defaults), and a
small JSON meta object on most rows. Deterministic for a given --seed.
"""
import argparse
import random
import sys

AREA_CODES = [201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218,
              219, 224, 225, 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260,
              262, 267, 269, 270, 276, 281, 301, 302]
CARRIERS = ["Verizon", "AT&T", "T-Mobile", "Bandwidth", "Twilio", "Telnyx", "Lumen"]
STATES = ["NY", "CA", "TX", "FL", "IL", "PA", "OH", "GA", "NC", "MI"]


def rows(count, rng):
    """Yields `count` distinct 10-digit numbers: NPA from the list, NXX 200-999 minus N11."""
    exchanges = [n for n in range(200, 1000) if n % 100 != 11]
    seen = set()
    while len(seen) < count:
        number = "%03d%03d%04d" % (rng.choice(AREA_CODES), rng.choice(exchanges),
                                   rng.randrange(10000))
        if number not in seen:
            seen.add(number)
            yield number


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("rows", type=int)
    p.add_argument("output", help="file to write, - for standard output")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-header", action="store_true")
    p.add_argument("--bad-every", type=int, default=0,
                   help="make every Nth row invalid (a 7-digit caller-ID)")
    args = p.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout if args.output == "-" else open(args.output, "w", newline="")
    if not args.no_header:
        out.write("caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n")
    for i, number in enumerate(rows(args.rows, rng), 1):
        if args.bad_every and i % args.bad_every == 0:
            number = number[3:]
        area = number[:3] if i % 4 else ""
        daily, hourly = ("1000", "100") if i % 3 else ("", "")
        meta = ('"{""state"": ""%s"", ""batch"": %d}"' % (rng.choice(STATES), i // 1000)
                if i % 5 else "")
        out.write("%s,%s,%s,%s,%s,%s\n" % (number, rng.choice(CARRIERS), area, daily, hourly, meta))
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()

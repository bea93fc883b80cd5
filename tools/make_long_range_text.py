"""Write a text whose lines each hold one long-range dependency (report_sections/long_range_text.py):

    python tools/make_long_range_text.py --length 40 --seed 1 > text.txt
    python min_char_rnn.py text.txt --cell lstm --seq-length 100 --hidden-size 32

Each line is a key (A to D), a space, random lowercase filler, a space and the same key: the
second key comes LENGTH characters after the first, and only a model that remembers the first
can predict it. The same --length, --chars and --seed give the same text.
"""
import argparse
import os
import sys


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from report_sections.long_range_text import MIN_L, make_text  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--length", type=int, required=True,
                    help=f"L: characters from a line's key to its recall (at least {MIN_L})")
    ap.add_argument("--chars", type=int, default=1_000_000,
                    help="at least this many characters, in whole lines (default 1000000)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the keys and filler (default 1)")
    args = ap.parse_args(argv)
    if args.length < MIN_L or args.chars < 1 or args.seed < 0:
        ap.error(f"--length must be at least {MIN_L}, --chars at least 1, --seed at least 0")
    sys.stdout.write(make_text(args.length, args.chars, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

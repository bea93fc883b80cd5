"""Start-up time and peak memory of training on a large text.

    python benchmarks/bench_text.py [--mb 50 100] [--repeats 3] [--val-frac 0.1] [--trainer PATH]

For each size, a text of that many megabytes (input.txt repeated, so ASCII with its 76
characters) is written to a temporary folder, and `python min_char_rnn.py TEXT --iters 1`
runs on it: reading and indexing the text, one iteration, one checkpoint. Prints the
command's wall-clock time (the median of the repeats: the time until training has started and
done its first step) and its peak resident memory, as bytes per byte of text beyond what the
same command needs on a text of 1 MB (the process, numpy and the model). With --val-frac, a
second line does the same with a held-out part (its evaluation at iteration 0 included).
--trainer measures another copy of the trainer (an older checkout, say) the same way.
A script, not a test: nothing here asserts a time.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from charrnn.parser import Parser  # noqa: E402


MB = 1_000_000


def write_text(path, size):
    """size bytes of input.txt, repeated (cut at the end)."""
    with open(os.path.join(HERE, "..", "input.txt"), "rb") as f:
        base = f.read()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(base[:left])
            left -= len(base)


def measure(trainer, text, out, extra):
    """(wall seconds, peak resident bytes) of one training command of one iteration."""
    cmd = [sys.executable, trainer, text, "--iters", "1", "--sample-every", "0", "--print-interval", "0",
           "--hidden-size", "100", "--out", out, *extra]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_text.py: the trainer failed: {err.strip()}")
    return seconds, usage.ru_maxrss * 1024


def series(trainer, folder, size, extra, repeats):
    """Median seconds and the largest peak memory over repeats, each in a new run folder."""
    text = os.path.join(folder, f"text-{size}.txt")
    if not os.path.exists(text):
        write_text(text, size)
    runs = [measure(trainer, text, os.path.join(folder, f"run-{size}-{len(extra)}-{k}"), extra)
            for k in range(repeats)]
    return statistics.median(s for s, _ in runs), max(m for _, m in runs)


def main():
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[50, 100],
                    help="text sizes in MB (default 50 100)")
    ap.add_argument("--repeats", type=int, default=3, help="measurements per size (default 3)")
    ap.add_argument("--val-frac", type=float, default=0.1, help="held out in the second line (0: none)")
    ap.add_argument("--trainer", default=os.path.join(HERE, "..", "min_char_rnn.py"),
                    help="the min_char_rnn.py to measure (default this checkout's)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        _, base = series(args.trainer, folder, MB, [], 1)
        print(f"trainer {os.path.abspath(args.trainer)}; a 1 MB text peaks at {base / 2 ** 20:.0f} MiB "
              f"(the process, numpy, the model)")
        variants = [("", [])] + ([(f", --val-frac {args.val_frac}", ["--val-frac", str(args.val_frac),
                                                                      "--eval-every", "1000"])]
                                 if args.val_frac else [])
        for mb in args.mb:
            size = int(mb * MB)
            for label, extra in variants:
                seconds, peak = series(args.trainer, folder, size, extra, args.repeats)
                print(f"{mb:g} MB text{label}: {seconds:.2f} s to read, index and train one iteration "
                      f"(median of {args.repeats}); peak {peak / 2 ** 20:.0f} MiB, "
                      f"{(peak - base) / (size - MB):.2f} bytes per byte of text beyond the 1 MB run's")


if __name__ == "__main__":
    main()

"""Training speed of min_char_rnn.py against the plain per-time-step loop, side by side.

    python benchmarks/bench_train.py [--iters 3000] [--reps 9] [--threads 1] [--text input.txt]
                                     [--blas-autodetect]

Both train on the same text with the classic defaults (hidden 100, seq_length 25,
a 200-character sample every 100 iterations); repetitions alternate between the
two so that the machine's state affects both alike. Prints iterations per second
(median and range), their ratio, and the time of each part of one iteration.
A script, not a test: nothing here asserts a time.

OpenBLAS picks its kernels for the CPU it finds unless OPENBLAS_CORETYPE names one;
some machines set that variable for older builds' sake, and the line "BLAS kernels"
shows what is in force. --blas-autodetect unsets it (and OPENBLAS_L2_SIZE) for this
run alone, to measure what a machine without that setting gets.
"""
import argparse
import os
import sys

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--iters", type=int, default=3000, help="iterations per measurement")
ap.add_argument("--reps", type=int, default=9, help="measurements of each implementation")
ap.add_argument("--threads", default="1", help="BLAS threads for both (the trainer uses 1)")
ap.add_argument("--text", default=os.path.join(os.path.dirname(__file__), "..", "input.txt"))
ap.add_argument("--blas-autodetect", action="store_true",
                help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, so OpenBLAS chooses its kernels")
args = ap.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = args.threads  # before numpy is imported
if args.blas_autodetect:
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(var, None)

import contextlib  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import timeit  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "tests")]
import min_char_rnn as m  # noqa: E402
from helpers import blas_kernels  # noqa: E402
from reference import adagrad_ref, lossFun_ref, sample_ref, train_ref  # noqa: E402


def project_run(tmp, rep):
    """The real command-line training loop, files and checkpoints included. The rate is
    the one train() measures over its loop, so reading and indexing the text is left
    out, as it is for the reference, which is handed the index array."""
    out = os.path.join(tmp, f"run-{rep}")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = m.main([args.text, "--iters", str(args.iters), "--out", out, "--print-interval", "1e9"])
    assert code == 0
    return float(re.search(r"\(([0-9.]+) it/s\)", printed.getvalue()).group(1))


def reference_run(data, V):
    t = time.perf_counter()
    train_ref(data, V, args.iters)
    return args.iters / (time.perf_counter() - t)


def per_call(f, number):
    return min(timeit.repeat(f, number=number, repeat=5)) / number * 1e6  # microseconds


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    text = m.read_text(args.text)
    chars, data = m.build_vocab(text)
    V = len(chars)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}, "
          f"NumPy {np.__version__}, BLAS threads {args.threads}")
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    print(f"BLAS kernels: {blas_kernels()} "
          + (f"(OPENBLAS_CORETYPE={coretype} is set)" if coretype else "(chosen by OpenBLAS)"))
    print(f"text: {len(data)} characters, vocabulary {V}; {args.iters} iterations x {args.reps} "
          f"repetitions each, alternating")
    ours, ref = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            ours.append(project_run(tmp, rep))
            ref.append(reference_run(data, V))
    ratios = [a / b for a, b in zip(ours, ref)]
    for name, xs in (("min_char_rnn.py", ours), ("per-step reference", ref)):
        print(f"{name:>20}: {statistics.median(xs):7.0f} it/s  (min {min(xs):.0f}, max {max(xs):.0f})")
    print(f"{'ratio':>20}: {statistics.median(ratios):7.2f} x  (min {min(ratios):.2f}, max {max(ratios):.2f})")

    rng = np.random.default_rng(0)
    params = m.init_params(V, 100, rng)
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    inputs, targets, h = data[:25], data[1:26], np.zeros((100, 1))
    # as the training loop calls them: gradients into one flat buffer, Adagrad on flat vectors
    param_vec, _ = m.flat_views(params)
    mem_vec, _ = m.flat_views(mem)
    grad_vec = np.empty_like(param_vec)
    grads = m.lossFun(inputs, targets, h, params, grad_vec)[1:6]
    li, lt = [int(c) for c in inputs], [int(c) for c in targets]
    print("one call, microseconds      project  reference")
    rows = [("lossFun (25 steps)", lambda: m.lossFun(inputs, targets, h, params, grad_vec),
             lambda: lossFun_ref(li, lt, h, params), 200),
            ("sample (200 chars)", lambda: m.sample(h, 0, 200, params, rng=rng),
             lambda: sample_ref(h, 0, 200, params, rng), 5),
            ("adagrad_update", lambda: m.adagrad_update(param_vec, grad_vec, mem_vec, 1e-12),
             lambda: adagrad_ref(params, grads, mem, 1e-12), 500)]
    for name, ours_f, ref_f, number in rows:
        print(f"{name:<25} {per_call(ours_f, number):9.1f}  {per_call(ref_f, number):9.1f}")


if __name__ == "__main__":
    main()

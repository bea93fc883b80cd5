"""Training speed of min_char_rnn.py against the plain per-time-step loop, side by side, per cell.

    python benchmarks/bench_train.py [--cells rnn lstm gru] [--iters 3000] [--reps 9]
                                     [--threads 1] [--text input.txt] [--blas-autodetect]

For each cell, the project's command-line loop and the cell's per-step reference
(tests/reference.py, reference_lstm.py, reference_gru.py) train on the same text with
the classic defaults (hidden 100, seq_length 25, a 200-character sample every 100
iterations); repetitions alternate between the two so that the machine's state
affects both alike. Prints iterations per second (median and range), their ratio,
the time of each part of one iteration, and what the held-out evaluation of
--val-frac 0.1 costs against training at the default --eval-every.
A script, not a test: nothing here asserts a time.

OpenBLAS picks its kernels for the CPU it finds unless OPENBLAS_CORETYPE names one;
some machines set that variable for older builds' sake, and the line "BLAS kernels"
shows what is in force. --blas-autodetect unsets it (and OPENBLAS_L2_SIZE) for this
run alone, to measure what a machine without that setting gets.
"""
import argparse
import os
import sys


ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
ap.add_argument("--cells", nargs="+", choices=("rnn", "lstm", "gru"), default=["rnn", "lstm", "gru"],
                help="cells to measure (default all three)")
ap.add_argument("--iters", type=int, default=3000, help="iterations per measurement (default 3000)")
ap.add_argument("--reps", type=int, default=9, help="measurements of each implementation (default 9)")
ap.add_argument("--threads", default="1", help="BLAS threads for both (the trainer uses 1)")
ap.add_argument("--text", default=os.path.join(os.path.dirname(__file__), "..", "input.txt"))
ap.add_argument("--blas-autodetect", action="store_true",
                help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, so OpenBLAS chooses its kernels")
args = ap.parse_args()
if args.iters < 1 or args.reps < 1:
    ap.error("--iters and --reps must be at least 1")
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = args.threads  # before numpy is imported
if args.blas_autodetect:
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(var, None)

import contextlib  # noqa: E402
import functools  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "tests")]
import reference  # noqa: E402
import reference_gru  # noqa: E402
import reference_lstm  # noqa: E402
from helpers import blas_kernels  # noqa: E402

import min_char_rnn as m  # noqa: E402
from charrnn.cli import main as trainer_main  # noqa: E402
from charrnn.model import CELLS, cell_module  # noqa: E402
from charrnn.options import HPARAM_DEFAULTS  # noqa: E402
from charrnn.system import cpu_name  # noqa: E402
from charrnn.text import build_vocab, heldout_blocks, read_text, split_heldout  # noqa: E402


REFS = {"rnn": reference, "lstm": reference_lstm, "gru": reference_gru}


def project_run(tmp, cell, rep):
    """The real command-line training loop, files and checkpoints included. The rate is
    the one train() measures over its loop, so reading and indexing the text is left
    out, as it is for the reference, which is handed the index array."""
    out = os.path.join(tmp, f"{cell}-{rep}")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = trainer_main([args.text, "--cell", cell, "--iters", str(args.iters), "--out", out,
                       "--print-interval", "1e9"])
    assert code == 0
    return float(re.search(r"\(([0-9.]+) it/s\)", printed.getvalue()).group(1))


def reference_run(data, V, cell):
    t = time.perf_counter()
    reference.train_ref(data, V, args.iters, cell=REFS[cell])
    return args.iters / (time.perf_counter() - t)


def per_call(f, number):
    return min(timeit.repeat(f, number=number, repeat=5)) / number * 1e6  # microseconds


def main():
    text = read_text(args.text)
    chars, data = build_vocab(text)
    V = len(chars)
    print(f"machine: {os.cpu_count()} cores, {cpu_name()}; Python {platform.python_version()}, "
          f"NumPy {np.__version__}, BLAS threads {args.threads}")
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    print(f"BLAS kernels: {blas_kernels()} "
          + (f"(OPENBLAS_CORETYPE={coretype} is set)" if coretype else "(chosen by OpenBLAS)"))
    print(f"text: {len(data)} characters, vocabulary {V}; {args.iters} iterations x {args.reps} "
          f"repetitions each, alternating")
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cell in args.cells:
            ours, ref = [], []
            for rep in range(args.reps):
                ours.append(project_run(tmp, cell, rep))
                ref.append(reference_run(data, V, cell))
            rates[cell] = ours, ref
    print(f"{'iterations per second':<22} {'project':>8} {'reference':>10} {'ratio':>7}   "
          f"(min to max of {args.reps})")
    for cell, (ours, ref) in rates.items():
        ratios = [a / b for a, b in zip(ours, ref, strict=True)]
        print(f"{CELLS[cell]:<22} {statistics.median(ours):8.0f} {statistics.median(ref):10.0f} "
              f"{statistics.median(ratios):6.2f}x   ({min(ours):.0f} to {max(ours):.0f}, "
              f"{min(ref):.0f} to {max(ref):.0f}, {min(ratios):.2f}x to {max(ratios):.2f}x)")

    _, val = split_heldout(data, 0.1)
    eval_every = HPARAM_DEFAULTS["eval_every"]
    for cell in args.cells:
        time_calls(cell, data, V, val, rates[cell][0], eval_every)


def time_calls(cell, data, V, val, rates, eval_every):
    """One call of each part of an iteration, the project's against the reference's."""
    inputs, targets = data[:25], data[1:26]
    li, lt = [int(c) for c in inputs], [int(c) for c in targets]
    c, ref = cell_module(cell), REFS[cell]
    rng = np.random.default_rng(0)
    params = c.init_params(V, 100, rng)
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    h = c.zero_state(100)
    # as the training loop calls them: gradients into one flat buffer, Adagrad on flat vectors
    param_vec, _ = m.flat_views(params)
    mem_vec, _ = m.flat_views(mem)
    grad_vec = np.empty_like(param_vec)
    grads = c.lossFun(inputs, targets, h, params, grad_vec)[1:6]
    print(f"{CELLS[cell]}, one call, microseconds    project  reference")
    rows = [("lossFun (25 steps)", functools.partial(c.lossFun, inputs, targets, h, params, grad_vec),
             functools.partial(ref.lossFun_ref, li, lt, h, params), 100),
            ("sample (200 chars)", functools.partial(m.sample, h, 0, 200, params, rng=rng, cell=c),
             functools.partial(reference.sample_ref, h, 0, 200, params, rng, ref.step_ref), 5),
            ("adagrad_update", functools.partial(m.adagrad_update, param_vec, grad_vec, mem_vec, 1e-12),
             functools.partial(reference.adagrad_ref, params, grads, mem, 1e-12), 200)]
    for name, ours_f, ref_f, number in rows:
        print(f"  {name:<32} {per_call(ours_f, number):9.1f}  {per_call(ref_f, number):9.1f}")
    t_eval = per_call(lambda: m.heldout_loss(heldout_blocks(val), params, c), 1) / 1e6
    per_iter = 1 / statistics.median(rates)
    print(f"  held-out loss of --val-frac 0.1 ({len(val) - 1} characters): {t_eval * 1e3:.0f} ms, "
          f"adding {t_eval / (eval_every * per_iter):.1%} to training at the default --eval-every "
          f"{eval_every} ({t_eval / (1000 * per_iter):.0%} at --eval-every 1000)")

if __name__ == "__main__":
    main()

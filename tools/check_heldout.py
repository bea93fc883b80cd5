"""Check the held-out loss of a run: its definition (100 streams side by side, each starting from
the state the training carries and reading 100 characters before its part unscored) against one
single stream, and against the older definition (100 streams from a zero state, no warm-up).

    python tools/check_heldout.py runs/lstm/checkpoint.npz [--text input.txt]

The two first numbers should agree within about 0.02 bits per character; the third shows what
cold starts can do to a trained model.
"""
import argparse
import os
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from charrnn.system import UserError, fail, one_blas_thread  # noqa: E402


one_blas_thread()  # before numpy loads, as the trainer does

from charrnn.checkpoint import load_checkpoint  # noqa: E402
from charrnn.logs import bits_per_char  # noqa: E402
from charrnn.model import cell_module  # noqa: E402
from charrnn.text import (  # noqa: E402
    EVAL_STREAMS,
    EVAL_WARMUP,
    check_covers,
    corpus_indices,
    heldout_blocks,
    read_corpus,
    split_heldout,
)
from min_char_rnn import heldout_loss  # noqa: E402


def readings(state, val):
    """(what, streams, warm-up, start state) of each reading of the held-out text."""
    return [("the definition", EVAL_STREAMS, EVAL_WARMUP, state["hprev"]),
            ("one stream", 1, 0, state["hprev"]),
            ("from zero, no warm-up (the old one)", EVAL_STREAMS, 0, None)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("checkpoint")
    ap.add_argument("--text", default="input.txt", help="the run's text (default input.txt)")
    args = ap.parse_args(argv)
    try:
        state = load_checkpoint(args.checkpoint)
        if not state["hparams"]["val_frac"]:
            raise UserError(f"'{args.checkpoint}' is of a run without a held-out part (--val-frac)")
        corpus = read_corpus(args.text)
        check_covers(corpus, state["chars"], f"'{args.checkpoint}'")
        data = corpus_indices(corpus, state["chars"])
    except UserError as e:
        return fail("check_heldout.py", e)
    _, val = split_heldout(data, state["hparams"]["val_frac"])
    cell = cell_module(state["hparams"]["cell"])
    for what, streams, warmup, start in readings(state, val):
        t0 = time.perf_counter()
        blocks = heldout_blocks(val, streams, warmup)
        bpc = bits_per_char(heldout_loss(blocks, state["params"], cell, start), len(val) - 1)
        print(f"{what:<36} {bpc:.4f} bits per character ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

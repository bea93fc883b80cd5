"""Reading a finished run's files: its loss and held-out curves, its training samples, its
checkpoint. The sections read runs only through these (and charrnn's readers). And the one
timing of an update that the sections compare runs by (update_timings)."""
import math
import os
import re
import time

import numpy as np

import min_char_rnn as m
from charrnn.checkpoint import load_checkpoint
from charrnn.logs import read_log


TIMING_CHARS = 4000  # characters per timing repeat of update_timings (fewer at small scales)


def checkpoint(run):
    """The checkpoint of the run in folder `run`, loaded."""
    return load_checkpoint(os.path.join(run, "checkpoint.npz"))


def loss_columns(run):
    """iteration, per-chunk loss and smoothed loss of a run, as arrays."""
    c = read_log(os.path.join(run, "loss.csv"))
    return (np.array(c["iteration"], dtype=int), np.array(c["loss"], dtype=float),
            np.array(c["smooth_loss"], dtype=float))


def heldout_columns(run):
    """iteration and held-out bits per character of a run trained with --val-frac, as arrays."""
    v = read_log(os.path.join(run, "val.csv"), kind="held-out")
    return np.array(v["iteration"], dtype=int), np.array(v["val_bpc"], dtype=float)


SAMPLE_HEADER = re.compile(r"--- iteration (\d+) ---\n")


def read_samples(path, length):
    """The training samples of samples.txt: [(iteration, text)]. Each is `length` characters
    after its header line, so a sample that holds a line like a header is read right."""
    with open(path, encoding="utf-8") as f:
        content = f.read()
    out, pos = [], 0
    while (head := SAMPLE_HEADER.match(content, pos)) is not None:
        out.append((int(head.group(1)), content[head.end():head.end() + length]))
        pos = head.end() + length + 1  # the sample, then a newline
    return out


def update_timings(mod, params, data, T, chars, repeats=3):
    """Seconds per update of each of `repeats` repeats of ceil(chars / T) updates (lossFun, then
    Adagrad on the flat parameter vector, as train() does): CPU seconds of this process (with
    one BLAS thread, the report's), so other processes sharing the cores count little."""
    vec, views = m.flat_views(params)
    mem, grads = np.zeros_like(vec), np.empty_like(vec)
    n = max(3, math.ceil(chars / T))
    out = []
    for repeat in range(repeats + 1):  # the first, untimed, warms the caches and the allocator
        h, p = mod.zero_state(params["Whh"].shape[1]), 0
        t0 = time.process_time()
        for _ in range(n):
            if p + T + 1 >= len(data):
                p = 0
            _, *_, h = mod.lossFun(data[p:p + T], data[p + 1:p + T + 1], h, views, grads)
            m.adagrad_update(vec, grads, mem, 0.1)
            p += T
        if repeat:
            out.append((time.process_time() - t0) / n)
    return out


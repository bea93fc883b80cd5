"""Reading a finished run's files: its loss and held-out curves, its training samples, its
checkpoint. The sections read runs only through these (and charrnn's readers)."""
import os
import re

import numpy as np

from charrnn.checkpoint import load_checkpoint
from charrnn.logs import read_log


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

"""A text with one long-range dependency, and the measure of how well a model recalls it.

Each line is a key, a space, random filler, a space, and the same key again:

    C qwhzkeuwbfpa C
    A odmxnwvyqjtr A

The keys are KEYS (drawn uniformly), the filler is lowercase letters drawn uniformly, and the
line's length is fixed by L: the second key (the recall character) comes exactly L characters
after the first, with L - 3 filler letters between the two spaces. Everything between the
two keys is unpredictable, so the recall character can only be predicted by a model that
remembers the first key for L steps:

    no memory       -log2(1/len(KEYS)) = 2 bits on the recall character (any key, equally likely)
    perfect memory  0 bits

make_text(L, n_chars, seed) writes such a text (the same seed gives the same text);
recall_positions finds the recall characters of a text; recall_bits reads a text through a
trained model (its checkpoint) and gives -log2 p(recall character) at each of them.

    python tools/make_long_range_text.py --length 40 --seed 1 > text.txt
    python min_char_rnn.py text.txt --cell lstm --seq-length 50 --hidden-size 32
"""
import math

import numpy as np

from charrnn.model import cell_module
from charrnn.text import build_vocab


KEYS = "ABCD"
FILLER = "abcdefghijklmnopqrstuvwxyz"
MIN_L = 4  # the shortest line with a filler letter: "A x A"
WARMUP_CHARS = 1000  # characters (whole lines) read before scoring (see recall_bits)


def line_length(L):
    """Characters per line, its newline included: key, space, L - 3 filler, space, key, newline."""
    return L + 2


def make_text(L, n_chars, seed):
    """At least n_chars characters of whole lines whose recall character comes L characters
    after its key, drawn with numpy's generator seeded by seed."""
    if L < MIN_L:
        raise ValueError(f"L must be at least {MIN_L}, got {L}")
    n_lines = max(1, math.ceil(n_chars / line_length(L)))
    rng = np.random.default_rng(seed)
    keys = np.frombuffer(KEYS.encode("ascii"), np.uint8)[rng.integers(len(KEYS), size=n_lines)]
    filler = np.frombuffer(FILLER.encode("ascii"), np.uint8)[rng.integers(len(FILLER), size=(n_lines, L - 3))]
    lines = np.empty((n_lines, line_length(L)), np.uint8)  # row i: line i, as ASCII codes
    lines[:, 0] = lines[:, L] = keys  # the key, and the recall character L characters later
    lines[:, 1] = lines[:, L - 1] = ord(" ")
    lines[:, 2:L - 1] = filler
    lines[:, L + 1] = ord("\n")
    return lines.tobytes().decode("ascii")


def recall_positions(text, L):
    """The index in text of every recall character: the second key of each line."""
    n = line_length(L)
    if len(text) % n:
        raise ValueError(f"a text of lines of {n} characters (L = {L}) cannot be {len(text)} long")
    return np.arange(L, len(text), n)


def warmup_lines(L):
    """Lines read before scoring: whole lines of at least WARMUP_CHARS characters, at least 2."""
    return max(2, math.ceil(WARMUP_CHARS / line_length(L)))


def recall_bits(state, text, L, streams=16, warmup=None):
    """-log2 p(recall character) at the recall characters of text, as the model of the
    checkpoint state (a dict of charrnn.checkpoint.load_checkpoint) predicts it.

    The text's lines are cut into `streams` pieces of equally many lines, each read one
    character at a time from the state the run carried when it stopped (state["hprev"], as
    the trainer's held-out loss starts; a zero state where there is none), the state going on
    from line to line as in training. The first `warmup` lines of each piece (None:
    warmup_lines(L)) are read but not scored: the run stopped mid-line, and a state far from
    what the text gives takes a while to forget. Returns an array (streams, lines per piece -
    warmup): stream b's scored lines, in order.
    """
    warmup = warmup_lines(L) if warmup is None else warmup
    cell = cell_module(state["hparams"]["cell"])
    _, data = build_vocab(text, state["chars"])
    lines = recall_positions(text, L).size
    if lines % streams or lines // streams <= warmup:
        raise ValueError(f"{lines} lines cannot be cut into {streams} pieces of more than {warmup}")
    inputs = data.reshape(streams, -1).T  # column b: piece b, time-major
    recall = recall_positions(text[:inputs.shape[0]], L)[warmup:]  # the same places in every piece
    return predicted_bits(cell, state["params"], inputs, recall, state.get("hprev")).T


def predicted_bits(cell, params, inputs, positions, start=None):
    """-log2 p(inputs[j, b]) for every j in positions and every stream b, from the state after
    reading inputs[:j, b] from the state start (S x 1; None: zero): (len(positions), B)."""
    w, Why, by = cell.step_weights(params), params["Why"], params["by"]
    H = Why.shape[1]
    T, B = inputs.shape
    state = np.zeros((B, cell.zero_state(H).shape[0]))
    if start is not None:
        state += np.ravel(start)  # every stream from the same state
    out = np.empty((len(positions), B))
    wanted = {int(j): i for i, j in enumerate(positions)}
    for t in range(T - 1):
        state = cell.step(state, inputs[t], w)
        if t + 1 in wanted:
            y = state[:, :H] @ Why.T + by.T
            y -= y.max(axis=1, keepdims=True)
            log_p = y - np.log(np.exp(y).sum(axis=1, keepdims=True))
            out[wanted[t + 1]] = -log_p[np.arange(B), inputs[t + 1]] / math.log(2)
    return out

"""Minimal character-level vanilla RNN, trained with truncated BPTT and Adagrad.

A faithful NumPy descendant of the classic ~100-line min-char-rnn script:

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)      (x_t: one-hot character)
    y_t = Why h_t + by
    p_t = softmax(y_t)
    loss = sum_t -log p_t[target_t]             (a sum over the chunk, not a mean)

Read it top-down: data and vocabulary, parameters, lossFun (forward and
backward pass), sample (multinomial or greedy decoding), the held-out loss,
adagrad_update, checkpointing, the training loop, the command line.

The gated cells live in modules of the same shape, min_char_lstm.py and
min_char_gru.py; the training loop here takes the cell's module as a parameter
(see cell_module) and imports them only when one is asked for.

    python min_char_rnn.py input.txt                      # train, seed 1
    python min_char_rnn.py input.txt --seeds 1 2 3        # three runs in parallel
    python min_char_rnn.py input.txt --cell lstm --val-frac 0.1   # an LSTM, 10% held out
    python min_char_rnn.py --sample-from runs/seed-1/checkpoint.npz --strategy greedy
"""
import os
import sys

if __name__ == "__main__":
    # The matrices are small (100x100): one BLAS thread per process is as fast
    # and lets parallel seeds share the cores. Must be set before numpy loads.
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    # Ctrl-C while numpy loads ends the process quietly (exit 130) instead of a traceback;
    # main() puts back the KeyboardInterrupt that it reports in one line.
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)

import argparse
import atexit
import contextlib
import csv
import ctypes
import fcntl
import hashlib
import importlib
import json
import math
import signal
import stat
import subprocess
import tempfile
import time
import zipfile
import zlib

import numpy as np

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")  # also the order of the gradients


class UserError(Exception):
    """A problem the user can fix: reported as one line on stderr, no traceback."""


# ---------------------------------------------------------------------------
# Data and vocabulary
# ---------------------------------------------------------------------------

# Measured peak while the text is read and indexed: the bytes, the str, its UTF-32 codes, their
# sorted copy, the int64 indices: about 21 bytes of memory per byte of an ASCII text.
TEXT_MEMORY_PER_BYTE = 21


def read_text(path, encoding="utf-8"):
    """Read the training text, turning every way it can go wrong into a UserError."""
    if not os.path.exists(path):
        raise UserError(f"input file '{path}' not found")
    if os.path.isdir(path):
        raise UserError(f"'{path}' is a directory, not a text file")
    st = os.stat(path)
    # A pipe (a FIFO, or /dev/stdin fed by one) is read once; a device could be endless
    # (/dev/zero) or wait on a terminal, so only files and pipes are texts.
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise UserError(f"'{path}' is a device or socket, not a text file")
    need, have = TEXT_MEMORY_PER_BYTE * st.st_size, available_memory()
    if have is not None and need > have:
        raise UserError(f"'{path}' is too large: training on it needs about {len_gib(need)} of "
                        f"memory, more than the {len_gib(have)} available")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UserError(f"cannot read '{path}': {e.strerror}")
    except MemoryError:  # a pipe has no size to check beforehand
        raise UserError(f"'{path}' does not fit in memory")
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise UserError(f"unknown encoding '{encoding}'")
    except UnicodeDecodeError as e:
        raise UserError(f"'{path}' is not valid {encoding} (byte 0x{raw[e.start]:02x} at offset "
                        f"{e.start}); pass --encoding latin-1 (or the file's real encoding)")
    except UnicodeError as e:  # a codec that fails otherwise (punycode, idna)
        raise UserError(f"'{path}' is not valid {encoding} ({e}); pass the file's real --encoding")
    if not text:
        raise UserError(f"'{path}' is empty")
    try:  # some decoders (utf-7, unicode_escape) can give lone surrogates: not characters
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UserError(f"'{path}' decoded as {encoding} holds a lone surrogate "
                        f"(U+{ord(text[e.start]):04X} at character {e.start}), which is not text; "
                        f"check --encoding")
    return text


def len_gib(nbytes):
    return f"{nbytes / 2 ** 30:.1f} GiB"


def available_memory():
    """Bytes of memory available to a new process (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def build_vocab(text, chars=None):
    """Sorted vocabulary (so a file always gives the same indices) and the text as indices.

    chars: a sorted vocabulary to index the text with instead of its own (a model's, when
    training goes on from a checkpoint); every character of the text must be in it.
    """
    # Plain form: chars = sorted(set(text)); data = [chars.index(c) for c in text]
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    vocab_codes = np.unique(codes) if chars is None else np.array([ord(c) for c in chars], np.uint32)
    data = np.searchsorted(vocab_codes, codes).astype(np.intp)
    return [chr(c) for c in vocab_codes], data


# ---------------------------------------------------------------------------
# Model parameters
# ---------------------------------------------------------------------------

def init_params(vocab_size, hidden_size, rng):
    """Weights N(0,1)*0.01, biases zero, exactly as in the classic script."""
    return {
        "Wxh": rng.standard_normal((hidden_size, vocab_size)) * 0.01,  # input to hidden
        "Whh": rng.standard_normal((hidden_size, hidden_size)) * 0.01,  # hidden to hidden
        "Why": rng.standard_normal((vocab_size, hidden_size)) * 0.01,  # hidden to output
        "bh": np.zeros((hidden_size, 1)),  # hidden bias
        "by": np.zeros((vocab_size, 1)),  # output bias
    }


def zero_state(hidden_size):
    """The state carried between chunks, at the start and after every reset: h = 0."""
    return np.zeros((hidden_size, 1))


# ---------------------------------------------------------------------------
# Forward and backward pass
# ---------------------------------------------------------------------------

def lossFun(inputs, targets, hprev, params, grads=None):
    """Loss and gradients of one chunk, by backpropagation through time.

    inputs, targets: equal-length sequences of character indices.
    hprev: H x 1 hidden state carried in from the previous chunk.
    grads: optional flat buffer, as long as all parameters together, that receives the
    five gradients in PARAM_NAMES order (the training loop passes one, see flat_views).
    Returns (loss, dWxh, dWhh, dWhy, dbh, dby, h_last); gradients clipped to [-5, 5].

    Only the recurrence runs step by step; everything else handles all time steps
    at once. Arrays indexed [t] are time-major: row t is time step t.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    inputs = np.asarray(inputs, dtype=np.intp)
    targets = np.asarray(targets, dtype=np.intp)
    T, H, V = len(inputs), Whh.shape[0], Why.shape[0]
    steps = np.arange(T)

    # forward pass
    # Wxh @ x_t for a one-hot x_t is column inputs[t] of Wxh: no one-hot product needed.
    xh = Wxh.T[inputs] + bh.T  # row t: Wxh x_t + bh
    hs = np.empty((T + 1, H))  # hs[t + 1] is h_t; hs[0] is hprev
    hs[0] = hprev.ravel()
    for h_prev, h_t, xh_t in zip(hs[:-1], hs[1:], xh):
        # h_t = tanh(Wxh x_t + Whh h_{t-1} + bh), written in place for speed
        Whh.dot(h_prev, out=h_t)
        h_t += xh_t
        np.tanh(h_t, out=h_t)
    h = hs[1:]
    ys = h @ Why.T
    ys += by.T  # row t: y_t = Why h_t + by
    ys -= ys.max(axis=1, keepdims=True)  # a shift softmax ignores, so exp never overflows
    ps = np.exp(ys)
    sums = ps.sum(axis=1, keepdims=True)
    # sum_t -log p_t[target_t], as log-softmax so a tiny p never becomes log(0)
    loss = float(np.log(sums).sum() - ys[steps, targets].sum())
    ps /= sums  # row t: p_t = softmax(y_t)

    # backward pass
    dy = ps  # dloss/dy_t = p_t - onehot(target_t); ps is not needed any more
    dy[steps, targets] -= 1
    # the five gradients share one buffer, so one np.clip covers them all
    if grads is None:
        grads = np.empty(Wxh.size + Whh.size + Why.size + H + V)
    dWxh, dWhh, dWhy, dbh, dby = split_like(grads, (Wxh, Whh, Why, bh, by))
    np.matmul(dy.T, h, out=dWhy)  # sum_t dy_t h_t^T
    dy.sum(axis=0, out=dby[:, 0])  # sum_t dy_t
    dhraw = dy @ Why  # row t: Why^T dy_t, the gradient reaching h_t from the output
    dtanh = h * h
    np.subtract(1, dtanh, out=dtanh)  # tanh'(a) = 1 - tanh(a)^2
    dhnext = np.zeros(H)
    for dhraw_t, dtanh_t in zip(dhraw[::-1], dtanh[::-1]):  # t = T-1 down to 0
        # dhraw_t = (1 - h_t^2) * (Why^T dy_t + dhnext); dhnext = Whh^T dhraw_t, in place
        dhraw_t += dhnext
        dhraw_t *= dtanh_t
        dhraw_t.dot(Whh, out=dhnext)
    onehot = np.zeros((T, V))
    onehot[steps, inputs] = 1  # row t: x_t^T
    np.matmul(dhraw.T, onehot, out=dWxh)  # sum_t dhraw_t x_t^T
    np.matmul(dhraw.T, hs[:-1], out=dWhh)  # sum_t dhraw_t h_{t-1}^T
    dhraw.sum(axis=0, out=dbh[:, 0])  # sum_t dhraw_t
    np.clip(grads, -5, 5, out=grads)  # clip every gradient to [-5, 5]: mitigates exploding gradients
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[T][:, None].copy()


def split_like(flat, arrays):
    """Views into flat, one per array, each with that array's shape."""
    views, start = [], 0
    for a in arrays:
        views.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return views


def flat_views(arrays):
    """Copy a dict of arrays (in PARAM_NAMES order) into one flat vector.

    Returns the vector and a dict of views into it with the original shapes: writing to
    either changes both. The training loop keeps params, mem and the gradients this way,
    so one Adagrad step covers all parameters.
    """
    flat = np.concatenate([arrays[k].ravel() for k in PARAM_NAMES])
    return flat, dict(zip(PARAM_NAMES, split_like(flat, (arrays[k] for k in PARAM_NAMES))))


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------

# Noise is drawn for this many steps at a time, so memory stays bounded for any n; the
# generator yields the same numbers whether drawn in one call or in blocks of rows.
NOISE_BLOCK = 256


def sample_blocks(h, seed_ix, n, params, strategy="multinomial", temperature=1.0, rng=None):
    """Generate n character indices from hidden state h (H x 1), starting after seed_ix.
    Yielded in lists of at most NOISE_BLOCK, so memory stays bounded for any n.

    strategy "multinomial": draw each index from softmax(y / temperature) with rng.
    strategy "greedy": take the most likely index (argmax of y); rng is never used.
    The seed character itself is not part of the output.
    """
    if strategy not in ("multinomial", "greedy"):
        raise ValueError(f"unknown sampling strategy {strategy!r}: use 'multinomial' or 'greedy'")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    xh = Wxh.T + bh.T  # row ix: Wxh x + bh for the one-hot x of character ix
    V = len(by)
    if strategy == "multinomial":
        rng = np.random.default_rng() if rng is None else rng
    h = np.array(h, dtype=float).ravel()  # a copy: the caller's h is left alone
    h_new, y = np.empty_like(h), np.empty(V)
    ix = seed_ix
    for start in range(0, n, NOISE_BLOCK):
        steps = min(NOISE_BLOCK, n - start)
        block = []
        if strategy == "greedy":
            offsets = np.broadcast_to(by.T, (steps, V))  # no noise: the plain argmax of y
        else:
            # Multinomial, by the Gumbel-max trick: with g_i = -log(-log(u_i)), u_i uniform,
            # argmax_i(y_i / T + g_i) is distributed as softmax(y / T), the same draw as the
            # classic rng.choice(V, p=softmax(y / T)). Scaling by T > 0 keeps the argmax, so
            # step i adds T * g to y. One call draws the noise of a block of steps.
            offsets = -np.log(-np.log(rng.random((steps, V)))) * temperature + by.T
        for offset in offsets:  # row i: by plus the noise of step i
            # h = tanh(Wxh x + Whh h + bh); y = Why h + by (+ noise); written in place for speed
            Whh.dot(h, out=h_new)
            h_new += xh[ix]
            np.tanh(h_new, out=h)
            Why.dot(h, out=y)
            y += offset
            ix = int(y.argmax())
            block.append(ix)
        yield block


def sample(h, seed_ix, n, params, strategy="multinomial", temperature=1.0, rng=None):
    """The n indices of sample_blocks as one list (memory grows with n: callers that let
    the user choose n use sample_blocks)."""
    return [ix for block in sample_blocks(h, seed_ix, n, params, strategy, temperature, rng)
            for ix in block]


def advance(h, ixs, params):
    """Feed the characters ixs through the network from hidden state h; return the new h."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    for ix in ixs:
        h = np.tanh(Wxh[:, ix:ix + 1] + Whh @ h + bh)
    return h


# ---------------------------------------------------------------------------
# Held-out loss
# ---------------------------------------------------------------------------

HELDOUT_BLOCK = 64  # heldout_loss runs this many time steps, then their output layer


def heldout_loss(inputs, targets, params):
    """Sum of -log p_t[target_t] over B independent streams of text, without gradients.

    inputs, targets: (T, B) index arrays, time-major: column b is stream b, which starts
    from a zero hidden state and carries it along. A target of -1 is padding (the end of
    a shorter stream) and is not counted. The streams run side by side, so each time step
    is one (B x H) by (H x H) product for all of them; time goes in blocks of
    HELDOUT_BLOCK steps, so memory stays bounded however long the streams are.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    T, B = inputs.shape
    xh = Wxh.T + bh.T  # row ix: Wxh x + bh for the one-hot x of character ix
    WhhT = np.ascontiguousarray(Whh.T)  # h @ Whh^T is Whh h for every row h; contiguous is faster
    hs = np.zeros((HELDOUT_BLOCK + 1, B, Whh.shape[0]))  # hs[t + 1, b]: h_t of stream b;
    # hs[0] carries the last h of the previous block (zero at the start)
    total = 0.0
    for start in range(0, T, HELDOUT_BLOCK):
        x, tg = inputs[start:start + HELDOUT_BLOCK], targets[start:start + HELDOUT_BLOCK]
        for x_t, h_prev, h_t in zip(x, hs[:-1], hs[1:]):
            # h_t = tanh(Wxh x_t + Whh h_{t-1} + bh) for every stream, in place
            np.matmul(h_prev, WhhT, out=h_t)
            h_t += xh[x_t]
            np.tanh(h_t, out=h_t)
        keep = tg.ravel() >= 0  # positions (step, stream) with a target
        h = hs[1:len(x) + 1].reshape(-1, hs.shape[2])[keep]
        # Positions are columns here, so the softmax sums run down long contiguous columns.
        ys = Why @ h.T
        ys += by  # column j: y = Why h + by at position j
        ys -= ys.max(axis=0)  # a shift softmax ignores
        picked = ys[tg.ravel()[keep], np.arange(len(h))].sum()  # sum of y_target
        np.exp(ys, out=ys)
        total += float(np.log(ys.sum(axis=0)).sum() - picked)  # -log p = log sum exp y - y_target
        hs[0] = hs[len(x)]  # carried into the next block
    return total


# ---------------------------------------------------------------------------
# Optimizer
# ---------------------------------------------------------------------------

def adagrad_update(param, dparam, mem, learning_rate):
    """Adagrad, in place: mem += dparam*dparam; param -= learning_rate * dparam / sqrt(mem + 1e-8).

    Every operation is elementwise, so this serves one parameter array with its gradient
    and memory, or, as the training loop calls it, all five at once as flat vectors.
    """
    # Plain form, the same numbers: mem += dparam * dparam
    #                               param -= learning_rate * dparam / np.sqrt(mem + 1e-8)
    # written with two scratch arrays instead of five temporaries.
    scratch = dparam * dparam
    mem += scratch
    np.add(mem, 1e-8, out=scratch)
    np.sqrt(scratch, out=scratch)  # scratch = sqrt(mem + 1e-8)
    step = learning_rate * dparam
    step /= scratch
    param -= step


# ---------------------------------------------------------------------------
# Checkpoints: the full training state, so a run continues exactly
# ---------------------------------------------------------------------------
# Reloading the weights alone is not enough to continue training: the Adagrad
# memories, the hidden state carried between chunks, the data pointer, the
# iteration count, the smoothed loss and the random generator are state too.

CHECKPOINT_FORMAT = 3  # 3 added the run files' SHA-256; 2 added cell, val_frac, eval_every and
# val_csv_bytes; formats 1 and 2 still load
# Options that change the numbers a run produces: fixed for the life of a run.
HPARAM_DEFAULTS = {"hidden_size": 100, "seq_length": 25, "learning_rate": 0.1, "seed": 1,
                   "sample_every": 100, "sample_length": 200, "log_every": 100,
                   "cell": "rnn", "val_frac": 0.0, "eval_every": 20000}
# A format-1 checkpoint is a vanilla run without a held-out part: these were its values.
ADDED_IN_FORMAT_2 = {"cell": "rnn", "val_frac": 0.0, "eval_every": HPARAM_DEFAULTS["eval_every"],
                     "val_csv_bytes": 0}
LOSS_CSV_HEADER = "iteration,loss,smooth_loss,smooth_bpc,clipped"  # loss.csv, see train's log_row
VAL_CSV_HEADER = "iteration,val_bpc"  # val.csv, see train's evaluate
CELLS = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}  # --cell: what it trains
# Per cell: gate blocks in Wxh, Whh and bh, and the carried state's size, both in units of
# the hidden size (the shapes that init_params and zero_state give, known without allocating).
CELL_SIZES = {"rnn": (1, 1), "lstm": (4, 2), "gru": (3, 1)}
# The log files of a run directory, each with the checkpoint field that records its size
# when the checkpoint was written: resume cuts off what came after, so nothing is doubled.
RUN_FILES = {"loss.csv": "loss_csv_bytes", "samples.txt": "samples_txt_bytes",
             "val.csv": "val_csv_bytes"}
# ... and the field with the SHA-256 of those first bytes: resume keeps a file only if it
# still begins with exactly what the checkpoint saw (not, say, re-saved with CRLF line ends).
RUN_FILE_SHA256 = {name: key.replace("_bytes", "_sha256") for name, key in RUN_FILES.items()}
ADDED_IN_FORMAT_3 = {key: None for key in RUN_FILE_SHA256.values()}  # None: not recorded, not checked
INT_MAX = 2 ** 63 - 1  # a checkpoint stores integers as int64: no integer option may exceed it


def cell_module(name):
    """The module that holds a cell's math (init_params, zero_state, lossFun, sample, advance,
    heldout_loss): this one for the vanilla RNN, min_char_lstm.py or min_char_gru.py for the
    gated cells, imported only when asked for."""
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}: callers check it against CELLS")
    return sys.modules[__name__] if name == "rnn" else importlib.import_module(f"min_char_{name}")


def param_shapes(cell, vocab_size, hidden_size):
    """(shapes of the parameters, shape of the carried state) of a cell, without building them."""
    gates, carried = CELL_SIZES[cell]
    H, V = hidden_size, vocab_size
    return ({"Wxh": (gates * H, V), "Whh": (gates * H, H), "Why": (V, H), "bh": (gates * H, 1),
             "by": (V, 1)}, (carried * H, 1))


def non_finite_field(state):
    """The first field of state that a run cannot continue from (a weight, Adagrad memory or
    carried state that is not finite, a negative memory, a bad smoothed loss), or None."""
    for k in PARAM_NAMES:
        if not np.isfinite(state["params"][k]).all():
            return k
    for k in PARAM_NAMES:
        m = state["mem"][k]
        if not (np.isfinite(m).all() and (m >= 0).all()):
            return "m" + k
    if not np.isfinite(state["hprev"]).all():
        return "hprev"
    if not (math.isfinite(state["smooth_loss"]) and state["smooth_loss"] >= 0):
        return "smooth_loss"
    return None


def write_error(path, e):
    """The one way a failed write is reported: the file, and the system's reason (no space left
    on device, file too large, read-only file system, no such file or directory, ...)."""
    return UserError(f"cannot write '{path}': {e.strerror or e}")


def save_checkpoint(path, state):
    """Write state atomically: a temporary file, then a rename over the old checkpoint.

    Never writes numbers a run cannot continue from: a diverged state is refused, and the
    checkpoint on disk stays the last good one. A failed write leaves the old file too."""
    bad = non_finite_field(state)
    if bad is not None:
        raise UserError(f"training diverged: '{bad}' is not finite at iteration {state['n']} "
                        f"(try a smaller --learning-rate)")
    arrays = {"format": CHECKPOINT_FORMAT,
              "hprev": state["hprev"], "p": state["p"], "n": state["n"],
              "smooth_loss": state["smooth_loss"],
              "rng_state": json.dumps(state["rng"].bit_generator.state),
              "vocab": np.array([ord(c) for c in state["chars"]], dtype=np.int32),
              "text_sha256": state["text_sha256"],
              **{key: state[key] for key in RUN_FILES.values()},
              # (the first 0 bytes of a file, one the run does not write say, hash to that of b"")
              **{RUN_FILE_SHA256[name]: state[RUN_FILE_SHA256[name]] if state[key]
                 else hashlib.sha256().hexdigest() for name, key in RUN_FILES.items()}}
    arrays.update(state["hparams"])
    for name in PARAM_NAMES:
        arrays[name] = state["params"][name]
        arrays["m" + name] = state["mem"][name]
    tmp = path + ".tmp"
    try:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)  # whatever is there (a link planted to elsewhere, say) is not written through
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):  # the one before stays as PREVIOUS (a hard link: no copy)
            os.link(path, previous(path) + ".tmp")
            os.replace(previous(path) + ".tmp", previous(path))
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise write_error(path, e) from None


def previous(path):
    """Where save_checkpoint keeps the checkpoint before the last: if training diverges right
    after a checkpoint, that one holds the state that diverged, and this one is the last good."""
    return path.removesuffix(".npz") + ".previous.npz"


def read_npz(path):
    """Every array of an .npz file, by name.

    Each member's header is read first and checked against the bytes the member really
    holds, so a header that claims terabytes is refused before anything is allocated.
    """
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        for info in infos:
            name = info.filename.removesuffix(".npy")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ValueError(f"member '{name}' has array format {version}")
                shape, _, dtype = read_header(f)
                held = info.file_size - f.tell()
            if dtype.hasobject or math.prod(shape) * dtype.itemsize != held:
                raise UserError(f"checkpoint '{path}' is corrupt: field '{name}' claims shape "
                                f"{shape} of {dtype}, but holds {held} bytes")
        need, have = sum(info.file_size for info in infos), available_memory()
        if have is not None and need > have:
            raise UserError(f"checkpoint '{path}' needs {len_gib(need)} of memory to load, "
                            f"more than the {len_gib(have)} available")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def load_checkpoint(path):
    """Read a checkpoint back into the state dict that save_checkpoint wrote.

    Every field is checked (type, shape, range, finiteness) before it is used, so a damaged,
    hand-edited or foreign file is refused in one line that names the field.
    """
    if not os.path.isfile(path):
        raise UserError(f"no checkpoint at '{path}'")
    try:
        open(path, "rb").close()
    except OSError as e:
        raise UserError(f"cannot read checkpoint '{path}': {e.strerror}")
    if not zipfile.is_zipfile(path):
        raise UserError(f"'{path}' is not a checkpoint (one is the checkpoint.npz of a run folder), "
                        f"or it is corrupt or truncated")
    try:
        arrays = read_npz(path)
    except UserError:
        raise
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, zlib.error,
            RuntimeError, NotImplementedError) as e:  # (zipfile: encrypted, unknown compression)
        raise UserError(f"checkpoint '{path}' is corrupt or truncated ({type(e).__name__}: {e})")
    return checked_state(path, arrays)


KINDS = {"iu": "an integer", "iuf": "a number", "U": "a string"}  # dtype kinds a field may have


def checked_state(path, arrays):
    """The state dict of a checkpoint's arrays, each field checked as the run will use it."""
    def corrupt(field, why):
        return UserError(f"checkpoint '{path}' is corrupt: field '{field}' {why}")

    def scalar(field, kinds, low=None):
        if field not in arrays:
            raise corrupt(field, "is missing")
        a = arrays[field]
        if a.shape != () or a.dtype.kind not in kinds:
            raise corrupt(field, f"is {a.dtype} of shape {a.shape}, not {KINDS[kinds]}")
        v = a.item()
        if low is not None and not v >= low:
            raise corrupt(field, f"is {v}, must be >= {low}")
        return v

    fmt = scalar("format", "iu")
    if fmt not in (1, 2, CHECKPOINT_FORMAT):
        raise UserError(f"checkpoint '{path}' has format {fmt}, "
                        f"this script reads formats 1 to {CHECKPOINT_FORMAT}")
    added = {**(ADDED_IN_FORMAT_2 if fmt < 2 else {}), **(ADDED_IN_FORMAT_3 if fmt < 3 else {})}

    def field(k, kinds, low=None):
        return added[k] if k in added else scalar(k, kinds, low)

    def sha256_field(k):
        v = field(k, "U")
        if v is not None and not (len(v) == 64 and all(c in "0123456789abcdef" for c in v)):
            raise corrupt(k, "is not a SHA-256 in hex")
        return v

    # the options, held to the bounds the command line holds them to
    options = {a.dest: a for a in build_parser()._actions}
    hparams = {}
    for k, default in HPARAM_DEFAULTS.items():
        v = type(default)(field(k, {int: "iu", float: "iuf", str: "U"}[type(default)]))
        option = options[k]
        if option.choices is not None and v not in option.choices:
            raise corrupt(k, f"is {v!r}, not one of {', '.join(option.choices)}")
        if option.type is not None:
            try:
                option.type(repr(v))
            except argparse.ArgumentTypeError as e:
                raise corrupt(k, f"is {v!r}: {str(e).rsplit(', got ', 1)[0]}")
        hparams[k] = v
    vocab = arrays.get("vocab")
    if vocab is None or vocab.dtype.kind not in "iu" or vocab.ndim != 1 or not len(vocab):
        raise corrupt("vocab", "is not a list of character codes")
    vocab = vocab.astype(np.int64)
    if (not ((vocab >= 0) & (vocab <= 0x10FFFF) & ((vocab < 0xD800) | (vocab > 0xDFFF))).all()
            or not (np.diff(vocab) > 0).all()):
        raise corrupt("vocab", "is not a sorted list of distinct Unicode characters")
    chars = [chr(c) for c in vocab]
    try:
        bit_generator = np.random.PCG64()
        bit_generator.state = json.loads(scalar("rng_state", "U"))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
        raise corrupt("rng_state", f"is not a PCG64 state ({type(e).__name__}: {e})")
    shapes, state_shape = param_shapes(hparams["cell"], len(chars), hparams["hidden_size"])
    for k in (*PARAM_NAMES, *("m" + k for k in PARAM_NAMES), "hprev"):
        want = state_shape if k == "hprev" else shapes[k.removeprefix("m")]
        a = arrays.get(k)
        if a is None:
            raise corrupt(k, "is missing")
        if a.dtype != np.float64 or a.shape != want:
            raise corrupt(k, f"is {a.dtype} of shape {a.shape}, expected float64 of shape {want}")
    state = {"params": {k: arrays[k] for k in PARAM_NAMES},
             "mem": {k: arrays["m" + k] for k in PARAM_NAMES},
             "hprev": arrays["hprev"], "p": scalar("p", "iu", 0), "n": scalar("n", "iu", 0),
             "smooth_loss": float(scalar("smooth_loss", "iuf")),
             "rng": np.random.Generator(bit_generator),
             "chars": chars,
             "text_sha256": sha256_field("text_sha256"),
             "hparams": hparams,
             **{key: field(key, "iu", 0) for key in RUN_FILES.values()},
             **{key: sha256_field(key) for key in RUN_FILE_SHA256.values()}}
    bad = non_finite_field(state)
    if bad is not None:
        raise corrupt(bad, "holds numbers a run cannot continue from (not finite, or a "
                           "negative Adagrad memory)")
    return state


def seed_of(args):
    return HPARAM_DEFAULTS["seed"] if args.seed is None else args.seed


def text_sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------

def format_seconds(s):
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def progress(n, smooth_loss, seq_length, iters, n0, t0, now):
    """The classic 'iter n, loss: x' line (x is the smoothed loss), per character, with the
    progress towards iters and the speed since iteration n0 at time t0."""
    line = (f"iter {n}, loss: {smooth_loss:f} (smoothed, a sum over {seq_length} characters: "
            f"{smooth_loss / seq_length / math.log(2):.3f} bits per character)")
    done = f"{n / iters:.0%} of {iters}" if iters else "no --iters limit"
    if n > n0 and now > t0:
        rate = (n - n0) / (now - t0)
        left = f", {format_seconds((iters - n) / rate)} left" if iters else ""
        return f"{line} | {done}, {rate:.0f} it/s{left}"
    return f"{line} | {done}"


def new_state(chars, text, hparams, params=None):
    """Iteration 0 of a run: fresh weights (or a copy of params), zero Adagrad memory and state."""
    rng = np.random.default_rng(hparams["seed"])
    H, V = hparams["hidden_size"], len(chars)
    cell = cell_module(hparams["cell"])
    params = cell.init_params(V, H, rng) if params is None else {k: v.copy() for k, v in params.items()}
    return {"params": params, "mem": {k: np.zeros_like(v) for k, v in params.items()},
            "hprev": cell.zero_state(H), "p": 0, "n": 0,
            "smooth_loss": -math.log(1.0 / V) * hparams["seq_length"],  # loss at iteration 0
            "rng": rng, "chars": chars, "text_sha256": text_sha256(text), "hparams": hparams,
            **{key: 0 for key in RUN_FILES.values()},
            **{key: hashlib.sha256().hexdigest() for key in RUN_FILE_SHA256.values()}}


def split_heldout(data, val_frac):
    """(training part, held-out part) of the text's indices: the last val_frac is held out."""
    n_val = int(len(data) * val_frac)
    return data[:len(data) - n_val], data[len(data) - n_val:]


EVAL_STREAMS = 100  # the held-out text is read as this many streams side by side


def heldout_streams(val):
    """The held-out text as (T, B) inputs and targets for heldout_loss.

    Every character after the first is predicted once: the text is cut into B contiguous
    streams of nearly equal length, each read from a zero state; shorter streams are padded
    at the end with target -1.
    """
    positions = np.arange(len(val) - 1)  # position i predicts val[i + 1] from val[i]
    pieces = np.array_split(positions, min(EVAL_STREAMS, len(positions)))
    inputs = np.zeros((len(pieces[0]), len(pieces)), dtype=np.intp)
    targets = np.full(inputs.shape, -1, dtype=np.intp)
    for b, piece in enumerate(pieces):
        inputs[:len(piece), b] = val[piece]
        targets[:len(piece), b] = val[piece + 1]
    return inputs, targets


def index_text(text, state, whose):
    """The text as indices into the vocabulary of a checkpoint's model, which must cover it."""
    missing = sorted(set(text) - set(state["chars"]))
    if missing:
        raise UserError(f"{whose} was trained on a text with another vocabulary: this text has "
                        f"characters it lacks: {''.join(missing)[:20]!r}")
    return build_vocab(text, state["chars"])[1]


def run_files(hparams):
    """The log files of a run, by name: val.csv only where there is a held-out part."""
    return [name for name in RUN_FILES if name != "val.csv" or hparams["val_frac"] > 0]


def last_row(path):
    """The fields of the last complete row of a CSV log, or None."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 300))
            lines = f.read().decode("utf-8", "replace").split("\n")
        return lines[-2].split(",") if len(lines) >= 3 else None  # [-1]: after the last newline
    except OSError:
        return None


def per_char(loss, seq_length):
    """A loss summed over a chunk of seq_length characters, per character, in nats and bits."""
    return f"{loss / seq_length:.3f} nats = {loss / seq_length / math.log(2):.3f} bits per character"


def run_summary(out_dir, seq_length):
    """The last figures a run logged: its smoothed loss, per chunk and per character, and held-out bpc."""
    row, val = (last_row(os.path.join(out_dir, name)) for name in ("loss.csv", "val.csv"))
    if row is None:
        return "nothing logged yet"
    smooth = float(row[2])
    out = (f"smoothed loss {smooth:.2f} per {seq_length}-character chunk ({per_char(smooth, seq_length)}) "
           f"at iteration {row[0]}")
    return out + (f", held-out {float(val[1]):.3f} bits per character" if val else "")


class RunFinished(Exception):
    """The run asked for is already done: its summary is printed, nothing is touched, exit 0."""


ALREADY_FINISHED = "already holds this run, finished"  # also how --seeds tells such a seed


LOCK_FILE = "run.lock"  # in every run directory: whoever holds its flock is the run's one writer


def own_run_dir(out_dir, what="training this run"):
    """Make this process the one writer of out_dir, for as long as it lives.

    An exclusive flock on out_dir/run.lock, which holds the owner's PID so that a refused
    process can name it. The kernel drops the lock when its process ends, however it ends
    (kill -9 too), so nothing is left to clean up before the run is resumed.
    """
    try:
        os.makedirs(out_dir, exist_ok=True)
        fd = os.open(os.path.join(out_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UserError(f"cannot write to output directory '{out_dir}': {e.strerror}")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f"process {holder}" if holder.isdigit() else "another process"
        raise UserError(f"'{out_dir}' is in use: {who} is {what} "
                        f"(one run directory, one writer); wait for it to end or stop it")
    except OSError as e:  # a file system without locks: one writer cannot be promised there
        os.close(fd)
        raise UserError(f"cannot lock '{os.path.join(out_dir, LOCK_FILE)}': {e.strerror}")
    with contextlib.suppress(OSError):  # the PID only names the owner: a full disk may keep it out
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def forget_owner():  # the lock goes with the process; the PID is emptied on the way out,
        with contextlib.suppress(OSError):  # so a refused command leaves the directory as it was
            os.ftruncate(fd, 0)
    atexit.register(forget_owner)
    try:  # the lock file may be old: check that new files can still be made here
        probe = os.path.join(out_dir, ".write-test")
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise UserError(f"cannot write to output directory '{out_dir}': {e.strerror}")


def prefix_sha256(path, size):
    """A running SHA-256 of the first size bytes of path (of nothing, if size is 0)."""
    h = hashlib.sha256()
    if size:
        with open(path, "rb") as f:
            while size > 0:
                chunk = f.read(min(size, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                size -= len(chunk)
    return h


def check_run_files(out_dir, state):
    """--resume: each log file must begin with exactly the bytes the checkpoint recorded (their
    number and, from format 3, their SHA-256); what came after is cut off when the run opens it."""
    for name in run_files(state["hparams"]):
        path, size = os.path.join(out_dir, name), state[RUN_FILES[name]]
        if size and not (os.path.isfile(path) and os.path.getsize(path) >= size):
            raise UserError(f"--resume: '{path}' is missing or shorter than the checkpoint "
                            f"records ({size} bytes)")
        want = state[RUN_FILE_SHA256[name]]
        try:
            same = want is None or prefix_sha256(path, size).hexdigest() == want
        except OSError as e:
            raise UserError(f"--resume: cannot read '{path}': {e.strerror}")
        if not same:
            raise UserError(f"--resume: the first {size} bytes of '{path}' differ from what the "
                            f"checkpoint recorded (edited or re-saved since?); restore the file "
                            f"or start a new run in another --out")


PROCESS_BYTES = 50 * 2 ** 20  # a Python process with numpy loaded, before any array (measured ~40 MiB)


def training_bytes(cell, vocab_size, hidden_size, seq_length):
    """About how much memory a training process needs: five flat vectors as long as all
    parameters (weights, Adagrad memory, gradients, the update's two scratch vectors), the
    per-step arrays of lossFun for one chunk, the sampler's block of noise, and the process."""
    shapes, _ = param_shapes(cell, vocab_size, hidden_size)
    n_params = sum(math.prod(shape) for shape in shapes.values())
    gates = CELL_SIZES[cell][0]
    return PROCESS_BYTES + 8 * (5 * n_params + 8 * seq_length * (gates * hidden_size + vocab_size)
                                + 2 * NOISE_BLOCK * vocab_size)


def check_memory(hp, vocab_size, runs=1):
    """Refuse, up front and in one line, models too large for this machine's memory: runs of
    them at once (--seeds trains --jobs runs side by side)."""
    need = runs * training_bytes(hp["cell"], vocab_size, hp["hidden_size"], hp["seq_length"])
    have = available_memory()
    if have is not None and need > have:
        what, verb = (f"{runs} runs at once of ", "need") if runs > 1 else ("", "needs")
        raise UserError(f"{what}a {CELLS[hp['cell']]} with hidden size {hp['hidden_size']}, "
                        f"{vocab_size} characters and seq_length {hp['seq_length']} {verb} about "
                        f"{len_gib(need)} of memory (weights, Adagrad memory, gradients), more than "
                        f"the {len_gib(have)} available; choose a smaller --hidden-size or --seq-length"
                        + (" or fewer --jobs" if runs > 1 else ""))


def prepare_run(args):
    """Check everything a run needs before writing a file; return (state, data, val, out_dir).

    A directory that holds a run is owned (own_run_dir) before anything in it is trusted:
    whether the run is finished, and what its checkpoint and log files say. A new run's
    directory is made and owned only once every check has passed.
    """
    text = read_text(args.text, args.encoding)
    out_dir = args.out or os.path.join("runs", f"seed-{seed_of(args)}")
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    given = {k: getattr(args, k) for k in HPARAM_DEFAULTS if getattr(args, k) is not None}
    if args.resume and args.init_from:
        raise UserError("--resume continues a run, --init-from starts a new one: give one of them")
    if args.resume and os.path.isdir(out_dir):  # a run still before its first checkpoint is in use
        own_run_dir(out_dir)
    if args.resume and not os.path.exists(ckpt):
        raise UserError(f"--resume: no checkpoint at '{ckpt}' (start the run without --resume)")
    state = None  # until the run is known: one already here, or a new one
    if os.path.exists(ckpt):  # a run is there: continue it, report it finished, or refuse
        if not args.resume:
            own_run_dir(out_dir)
        state = load_checkpoint(ckpt)
        data = index_text(text, state, f"the run in '{out_dir}'")
        if state["text_sha256"] != text_sha256(text):
            raise UserError(f"the run in '{out_dir}' was trained on a different text (same characters, "
                            f"other content): give its text, or choose another --out")
        n, hp = state["n"], state["hparams"]
        differ = [f"--{k.replace('_', '-')} {hp[k]}, not {v}" for k, v in given.items() if v != hp[k]]
        if args.resume:
            if differ:
                raise UserError(f"--resume: the run in '{out_dir}' has {differ[0]}; drop the option "
                                f"or use another --out")
            if args.iters and n >= args.iters:
                raise RunFinished(f"--resume: the run in '{out_dir}' is already at iteration {n}, so "
                                  f"--iters {args.iters} leaves 0 iterations to do (give a larger --iters "
                                  f"to train on); its last figures: {run_summary(out_dir, hp['seq_length'])}")
        elif args.iters and n >= args.iters and not differ:
            raise RunFinished(f"'{out_dir}' {ALREADY_FINISHED}: {run_summary(out_dir, hp['seq_length'])}. "
                              f"Nothing to do (--resume with a larger --iters trains on)")
        elif differ:
            raise UserError(f"'{out_dir}' already holds a run with {differ[0]}: choose another --out "
                            f"(or drop the option and use --resume to continue that run)")
        else:
            raise UserError(f"'{out_dir}' already holds a run stopped at iteration {n}: continue it "
                            f"with --resume, or choose another --out")
        check_run_files(out_dir, state)
        chars = state["chars"]
    elif args.init_from:  # a new run from another run's weights, and nothing else of its state
        start = load_checkpoint(args.init_from)
        for k in ("cell", "hidden_size"):
            if k in given and given[k] != start["hparams"][k]:
                raise UserError(f"--init-from: '{args.init_from}' holds a model with --{k.replace('_', '-')} "
                                f"{start['hparams'][k]}, not {given[k]}")
        chars, data = start["chars"], index_text(text, start, f"--init-from: the model in '{args.init_from}'")
        hp = {**HPARAM_DEFAULTS, **given, "cell": start["hparams"]["cell"],
              "hidden_size": start["hparams"]["hidden_size"]}
    else:
        chars, data = build_vocab(text)
        hp = {**HPARAM_DEFAULTS, **given}
    data, val = split_heldout(data, hp["val_frac"])
    if len(data) < hp["seq_length"] + 2:
        held = f" after holding out {len(val)} for --val-frac {hp['val_frac']}" if len(val) else ""
        raise UserError(f"'{args.text}' has {len(data)} characters to train on{held}; training needs "
                        f"at least seq_length + 2 = {hp['seq_length'] + 2}")
    if hp["val_frac"] > 0 and len(val) < 2:
        raise UserError(f"--val-frac {hp['val_frac']} holds out {len(val)} of the {len(data) + len(val)} "
                        f"characters of '{args.text}'; the held-out loss needs at least 2")
    if state is not None and state["p"] >= len(data):
        raise UserError(f"checkpoint '{ckpt}' is corrupt: field 'p' is {state['p']}, beyond the "
                        f"{len(data)} characters trained on")
    check_memory(hp, len(chars))
    if state is None:  # a new run: the directory is made and owned only now, all checks passed
        own_run_dir(out_dir)
        if os.path.exists(ckpt):  # another process made a run here while we checked
            raise UserError(f"'{out_dir}' already holds a run: continue it with --resume, "
                            f"or choose another --out")
        discard_dead_logs(out_dir)
        state = new_state(chars, text, hp, params=start["params"] if args.init_from else None)
    return state, data, (val if len(val) else None), out_dir


# How each log file of a run begins (train writes these first): a file by that name that
# begins otherwise is not a run's, and is never deleted.
RUN_FILE_STARTS = {"loss.csv": b"iteration,", "samples.txt": b"--- iteration ",
                   "val.csv": VAL_CSV_HEADER.encode()}  # (old runs' loss.csv: three columns)


def discard_dead_logs(out_dir):
    """Log files in a directory without a checkpoint are a run that died before its first one:
    it cannot be resumed, and this process owns the directory, so they go and the new run
    starts them afresh (never appending to another run's rows)."""
    for name, start in RUN_FILE_STARTS.items():
        path = os.path.join(out_dir, name)
        if not os.path.lexists(path):
            continue
        try:
            with open(path, "rb") as f:
                head = f.read(len(start))
        except OSError as e:
            raise UserError(f"cannot read '{path}': {e.strerror}")
        if head != start[:len(head)]:
            raise UserError(f"'{path}' is not a log of a run: move it, or choose another --out")
        try:
            os.remove(path)
        except OSError as e:
            raise write_error(path, e) from None


class RunLog:
    """A log file of a run, opened for appending after the first size bytes (what the checkpoint
    recorded; the rest is cut off, so nothing is doubled). It keeps a running SHA-256 of its
    content for the checkpoint, and a failed write is a UserError naming the file."""

    def __init__(self, path, size):
        self.path = path
        try:
            if os.path.exists(path):
                os.truncate(path, size)
            self.sha256 = prefix_sha256(path, size)
            self.f = open(path, "ab")
        except OSError as e:
            raise write_error(path, e) from None

    def write(self, data):
        try:
            self.f.write(data)
        except OSError as e:
            raise write_error(self.path, e) from None
        self.sha256.update(data)

    def flush(self):
        try:
            self.f.flush()
        except OSError as e:
            raise write_error(self.path, e) from None

    def tell(self):
        return self.f.tell()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        try:
            self.f.close()
        except OSError as e:
            if exc_type is None:  # else the error already on its way says what went wrong
                raise write_error(self.path, e) from None


# Signals that stop a run cleanly: it saves a checkpoint and exits 128 + the signal. SIGPIPE
# comes when the reader of stdout goes away (`... | head -1`): as for any Unix tool, we stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)


def drop_diverged(ckpt, state, n):
    """If the checkpoint on disk is of iteration n, it holds the weights whose loss was not
    finite: put the one before back in its place, or (there was none) set it aside."""
    if state["n"] != n or not os.path.exists(ckpt):
        return
    try:
        if os.path.exists(previous(ckpt)):
            os.replace(previous(ckpt), ckpt)
        else:
            os.replace(ckpt, diverged(ckpt))
    except OSError as e:
        raise write_error(ckpt, e) from None


def diverged(ckpt):
    return ckpt.removesuffix(".npz") + ".diverged.npz"


def kept_checkpoint(ckpt):
    """What a run that stopped on an error leaves to go on from, for its error message."""
    try:
        with np.load(ckpt) as z:
            n = int(z["n"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        if not os.path.isdir(os.path.dirname(ckpt) or "."):
            return f"the run folder '{os.path.dirname(ckpt)}' is gone, and its checkpoints with it"
        if os.path.exists(diverged(ckpt)):
            return (f"no good checkpoint is left: the only one held the weights that diverged "
                    f"(set aside as '{diverged(ckpt)}'); start the run again")
        return "no checkpoint was written yet"
    return f"the last good checkpoint '{ckpt}' (iteration {n}) is kept: --resume continues from it"


def train(args):
    """The classic loop: sample, lossFun, log, Adagrad step, advance the data pointer."""
    try:
        state, data, val, out_dir = prepare_run(args)
    except RunFinished as done:
        print(done, flush=True)
        return 0
    hp = state["hparams"]
    cell = cell_module(hp["cell"])
    seq_length, learning_rate = hp["seq_length"], hp["learning_rate"]
    sample_every, sample_length, log_every = hp["sample_every"], hp["sample_length"], hp["log_every"]
    rng, chars = state["rng"], state["chars"]
    # Parameters, Adagrad memories and gradients each live in one flat vector, with the
    # dicts as views into them (for lossFun, sample and the checkpoint), so that one
    # Adagrad step covers all five parameters.
    param_vec, params = flat_views(state["params"])
    mem_vec, mem = flat_views(state["mem"])
    grad_vec = np.empty_like(param_vec)
    state.update(params=params, mem=mem)
    hprev, p, n, smooth_loss = state["hprev"], state["p"], state["n"], state["smooth_loss"]
    iters, ckpt = args.iters, os.path.join(out_dir, "checkpoint.npz")
    paths = {name: os.path.join(out_dir, name) for name in run_files(hp)}
    if val is not None:
        val_inputs, val_targets = heldout_streams(val)
        val_chars = int((val_targets >= 0).sum())  # characters predicted: len(val) - 1

    stop = []  # the signal that asked us to stop; checked between iterations only
    handlers = {s: signal.signal(s, lambda signum, frame: stop.append(signum)) for s in STOP_SIGNALS}
    held = f" (+ {len(val)} held out)" if val is not None else ""
    print(f"{CELLS[hp['cell']]}, hidden size {hp['hidden_size']}; data has {len(data)} characters{held}, "
          f"{len(chars)} unique; writing to {out_dir}"
          + (f"; resuming at iteration {n}" if n else ""), flush=True)
    n_start, t_start = n, time.perf_counter()
    last_log = last_sample = last_val = -math.inf
    try:
        # overflow shows up as a non-finite loss, reported in one line instead of warnings
        with contextlib.ExitStack() as files, np.errstate(over="ignore", invalid="ignore"):
            logs = {name: files.enter_context(RunLog(path, state[RUN_FILES[name]]))
                    for name, path in paths.items()}
            loss_f, samples_f = logs["loss.csv"], logs["samples.txt"]
            if loss_f.tell() == 0:
                loss_f.write(LOSS_CSV_HEADER.encode() + b"\n")
                columns = LOSS_CSV_HEADER.count(",") + 1
            else:  # a run begun before the last two columns were added keeps its three
                with open(paths["loss.csv"], "rb") as f:
                    columns = f.readline().count(b",") + 1
            if "val.csv" in logs and logs["val.csv"].tell() == 0:
                logs["val.csv"].write(VAL_CSV_HEADER.encode() + b"\n")

            def checkpoint():
                for name, f in logs.items():
                    f.flush()
                    state[RUN_FILES[name]] = f.tell()
                    state[RUN_FILE_SHA256[name]] = f.sha256.hexdigest()
                state.update(hprev=hprev, p=p, n=n, smooth_loss=smooth_loss)
                save_checkpoint(ckpt, state)

            def log_row(it):
                """loss.csv: the chunk loss, the smoothed loss (also in bits per character), and
                which gradients were clipped: entries of exactly +-5 (unclipped, a measure-zero case)."""
                clipped = " ".join(k for k, g in zip(PARAM_NAMES, (dWxh, dWhh, dWhy, dbh, dby))
                                   if np.abs(g).max() >= 5)
                bpc = smooth_loss / seq_length / math.log(2)
                row = (str(it), repr(loss), repr(smooth_loss), repr(bpc), clipped)[:columns]
                loss_f.write((",".join(row) + "\n").encode())
                loss_f.flush()  # a run killed at any moment leaves a readable file

            def evaluate(it):
                """Held-out bits per character of the current weights, logged to val.csv."""
                nonlocal last_val
                bpc = cell.heldout_loss(val_inputs, val_targets, params) / val_chars / math.log(2)
                logs["val.csv"].write(f"{it},{bpc!r}\n".encode())
                logs["val.csv"].flush()
                if time.perf_counter() - last_val >= args.print_interval:
                    last_val = time.perf_counter()
                    print(f"iter {it}, held-out: {bpc:.4f} bits per character", flush=True)

            if val is not None and n == 0 and not args.resume:
                evaluate(0)  # the untrained model: about log2(vocabulary size)
            while (iters == 0 or n < iters) and not stop:
                # reset the memory at the start and when the data runs out
                if n == 0 or p + seq_length + 1 >= len(data):
                    hprev = np.zeros_like(hprev)
                    p = 0
                inputs = data[p:p + seq_length]
                targets = data[p + 1:p + seq_length + 1]

                # sample from the model now and then
                if sample_every and n % sample_every == 0:
                    ixs = cell.sample(hprev, inputs[0], sample_length, params, rng=rng)
                    txt = "".join(chars[ix] for ix in ixs)
                    samples_f.write(f"--- iteration {n} ---\n{txt}\n".encode("utf-8"))
                    if time.perf_counter() - last_sample >= args.print_interval:
                        last_sample = time.perf_counter()
                        print(f"----\n {txt} \n----", flush=True)

                # forward seq_length characters through the net and fetch the gradient
                loss, dWxh, dWhh, dWhy, dbh, dby, hprev = cell.lossFun(inputs, targets, hprev, params,
                                                                       grad_vec)
                if not math.isfinite(loss):
                    drop_diverged(ckpt, state, n)
                    raise UserError(f"the loss became {loss} at iteration {n}: stopping "
                                    f"(try a smaller --learning-rate)")
                smooth_loss = smooth_loss * 0.999 + loss * 0.001
                if n % log_every == 0:
                    log_row(n)
                    now = time.perf_counter()
                    if now - last_log >= args.print_interval:
                        last_log = now
                        print(progress(n, smooth_loss, seq_length, iters, n_start, t_start, now), flush=True)

                # perform parameter update with Adagrad
                adagrad_update(param_vec, grad_vec, mem_vec, learning_rate)  # dWxh, ..., dby together

                p += seq_length  # move data pointer
                n += 1  # iteration counter
                if val is not None and n % hp["eval_every"] == 0:
                    evaluate(n)
                if n % args.checkpoint_every == 0:
                    checkpoint()
            checkpoint()
            if n == iters and n > n_start:
                # The figures of the run's end, where the periodic ones missed it: after the
                # checkpoint, so that --resume with a larger --iters cuts them off and goes on
                # exactly as a run that never stopped.
                if (n - 1) % log_every:
                    log_row(n - 1)  # the last iteration's chunk loss and smoothed loss
                if val is not None and n % hp["eval_every"]:
                    evaluate(n)
    except UserError as e:  # a write failed or training diverged: say what is left to go on from
        raise UserError(f"{e}; {kept_checkpoint(ckpt)}") from None
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    elapsed = time.perf_counter() - t_start
    rate = (n - n_start) / elapsed if elapsed > 0 else float("nan")
    print(f"{n - n_start} iterations in {elapsed:.1f} s ({rate:.1f} it/s); "
          f"{run_summary(out_dir, seq_length)}; checkpoint: {ckpt}", flush=True)
    if stop:
        print(f"stopped by {signal.Signals(stop[0]).name} at iteration {n}; continue with --resume",
              file=sys.stderr, flush=True)
        return 128 + stop[0]
    return 0


# ---------------------------------------------------------------------------
# Sampling from a trained model
# ---------------------------------------------------------------------------

def primed_state(state, prime):
    """Hidden state after feeding all but the last prime character, and that last one's index."""
    chars = state["chars"]
    if prime is None:  # no prime: start a fresh line, or the first character of the vocabulary
        prime = "\n" if "\n" in chars else chars[0]
    if not prime:
        raise UserError("--prime must not be empty")
    missing = sorted(set(prime) - set(chars))
    if missing:
        raise UserError(f"--prime has characters the model's vocabulary lacks: "
                        f"{''.join(missing)!r}")
    ixs = [chars.index(c) for c in prime]
    cell = cell_module(state["hparams"]["cell"])
    h = cell.advance(np.zeros_like(state["hprev"]), ixs[:-1], state["params"])
    return h, ixs[-1], prime


def generate(state, prime, length, strategy, temperature, seed):
    """(prime, the length characters generated after it): the characters come as an iterator
    of pieces, one per block of the sampler, so memory stays bounded however long the text."""
    h, seed_ix, prime = primed_state(state, prime)
    cell, chars = cell_module(state["hparams"]["cell"]), state["chars"]
    blocks = cell.sample_blocks(h, seed_ix, length, state["params"], strategy=strategy,
                                temperature=temperature, rng=np.random.default_rng(seed))
    return prime, ("".join(chars[ix] for ix in block) for block in blocks)


class SafeStdout:
    """sys.stdout, for a reader that may go away (`... | head -1`) or a disk that may fill.

    Once the pipe is closed, output goes to /dev/null instead of raising BrokenPipeError
    from whichever print comes next, and `gone` is set for the loops that write to stop
    (training stops on the SIGPIPE that comes with it, see STOP_SIGNALS). Any other failed
    write (stdout redirected to a full disk) is a UserError.
    """

    def __init__(self, stream):
        self.stream, self.gone = stream, False

    def _failed(self, e):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.stream.fileno())  # what is still buffered goes there, quietly
        os.close(devnull)
        if not isinstance(e, BrokenPipeError):
            raise UserError(f"cannot write to standard output: {e.strerror or e}") from None
        self.gone = True
        signal.raise_signal(signal.SIGPIPE)  # ignored unless a run is training (the kernel's
        # own SIGPIPE comes only for pipes)

    def write(self, text):
        try:
            return self.stream.write(text)
        except OSError as e:
            self._failed(e)
            return len(text)

    def flush(self):
        try:
            self.stream.flush()
        except OSError as e:
            self._failed(e)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def sample_from_checkpoint(args):
    state = load_checkpoint(args.sample_from)
    prime, pieces = generate(state, args.prime, args.length, args.strategy, args.temperature,
                             seed_of(args))
    sys.stdout.write(prime)
    for piece in pieces:
        sys.stdout.write(piece)
        if getattr(sys.stdout, "gone", False):  # the reader has what it wanted: stop, quietly
            return 128 + signal.SIGPIPE
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 128 + signal.SIGPIPE if getattr(sys.stdout, "gone", False) else 0


@contextlib.contextmanager
def replaced_file(path):
    """A text file, written in full to path.tmp and then renamed over path, so that nobody sees
    half of it; a failed write is a UserError naming path (see write_error)."""
    tmp = f"{path}.{os.getpid()}.tmp"  # two --compare at once must not share one
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            yield f
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise write_error(path, e) from None
        raise


def unique_names(names):
    """names with -2, -3, ... added to repeats, in order: runs a/run and b/run give run and run-2."""
    seen, out = set(), []
    for name in names:
        new, k = name, 1
        while new in seen:
            k += 1
            new = f"{name}-{k}"
        seen.add(new)
        out.append(new)
    return out


def compare_strategies(args):
    """For each checkpoint, write greedy and multinomial samples side by side into a Markdown file,
    SAMPLES_DIR/<run>.md, <run> the checkpoint's folder (run-2.md, ... where two share a name)."""
    seed = seed_of(args)
    states = [(path, load_checkpoint(path)) for path in args.compare]  # all checked before writing
    for _, state in states:
        primed_state(state, args.prime)
    if os.path.exists(args.samples_dir) and not os.path.isdir(args.samples_dir):
        raise UserError(f"--samples-dir '{args.samples_dir}' is a file, not a directory")
    try:
        os.makedirs(args.samples_dir, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot write to '{args.samples_dir}': {e.strerror}")
    names = unique_names([os.path.basename(os.path.dirname(os.path.abspath(path))) for path in args.compare])
    for (path, state), name in zip(states, names):
        hp = state["hparams"]
        prime, greedy = generate(state, args.prime, args.length, "greedy", args.temperature, seed)
        _, multi = generate(state, args.prime, args.length, "multinomial", args.temperature, seed)
        out = os.path.join(args.samples_dir, f"{name}.md")
        with replaced_file(out) as f:
            f.write(f"# {name}: greedy vs multinomial sampling\n\n"
                    f"Model: `{path}`, {CELLS[hp['cell']]}, after {state['n']} iterations (smoothed loss "
                    f"{state['smooth_loss']:.2f}, {per_char(state['smooth_loss'], hp['seq_length'])}; hidden size {hp['hidden_size']}, seq_length "
                    f"{hp['seq_length']}, learning rate {hp['learning_rate']}, "
                    f"training seed {hp['seed']}).\n\n"
                    f"Both texts start from the same prime {prime!r} "
                    f"and a zero hidden state, {args.length} generated characters each; temperature "
                    f"{args.temperature}, sampling seed {seed}.\n\n"
                    f"## Greedy (argmax at every step)\n\n```\n{prime}")
            f.writelines(greedy)
            f.write(f"\n```\n\n## Multinomial (drawn from softmax(y / {args.temperature}))\n\n```\n{prime}")
            f.writelines(multi)
            f.write("\n```\n")
        print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------
# Several seeds in parallel processes
# ---------------------------------------------------------------------------

def seeds_table(loss_paths, seq_length, iters=0):
    """Each seed's final and lowest smoothed loss, per chunk and in bits per character, with
    the mean and spread over the seeds: the numbers a report needs. A run whose last row is
    short of iters (it stopped part-way) is marked, since its figures are not final."""
    bits = lambda loss: loss / seq_length / math.log(2)  # noqa: E731
    lines, finals = [], []
    for s, path in loss_paths.items():
        try:
            with open(path, newline="", encoding="utf-8") as f:
                rows = [(int(r["iteration"]), float(r["smooth_loss"])) for r in csv.DictReader(f)]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a seed that never wrote a row (or a half-written last one) is left out
        if rows:
            (it, final), (low_it, low) = rows[-1], min(rows, key=lambda r: r[1])
            finals.append(final)
            short = "  stopped part-way" if iters and it < iters - 1 else ""
            lines.append(f"{s:>6}  {final:9.2f} {bits(final):7.3f}  {it:>9}  {low:9.2f} {bits(low):7.3f}  "
                         f"{low_it:>9}{short}")
    if not lines:
        return ""
    head = (f"smoothed loss, a sum over {seq_length} characters, and bits per character:\n"
            f"{'seed':>6}  {'final':>9} {'bits':>7}  {'iteration':>9}  {'lowest':>9} {'bits':>7}  {'iteration':>9}")
    mean = sum(finals) / len(finals)
    sd = math.sqrt(sum((x - mean) ** 2 for x in finals) / (len(finals) - 1)) if len(finals) > 1 else 0.0
    tail = (f"{'mean':>6}  {mean:9.2f} {bits(mean):7.3f}  final smoothed loss over {len(finals)} seeds: "
            f"standard deviation {sd:.2f} ({bits(sd):.3f} bits), range {min(finals):.2f} to {max(finals):.2f}")
    return "\n".join([head, *lines, tail])


def run_seeds(args):
    """One child process per seed (at most --jobs at a time), each exactly a single-seed run."""
    text = read_text(args.text, args.encoding)  # a bad text fails once, before anything starts
    with text_file_for_children(args.text, text) as text_path:
        return run_seed_processes(args, text_path, len(set(text)))


@contextlib.contextmanager
def text_file_for_children(path, text):
    """A path each --seeds child can read the text from: path itself if it is a regular file;
    for a pipe (a FIFO, /dev/stdin), which can be read only once, a temporary copy of what the
    parent read, in UTF-8 (the same text, so the same text hash in every checkpoint)."""
    if stat.S_ISREG(os.stat(path).st_mode):
        yield path
        return
    with tempfile.NamedTemporaryFile("wb", suffix=".txt") as f:
        try:
            f.write(text.encode("utf-8"))
            f.flush()
        except OSError as e:
            raise write_error(f.name, e) from None
        yield f.name


def stop_with_parent():
    """In a --seeds child, before it starts: a SIGTERM when the parent dies, however it dies
    (kill -9 too), so the run saves its checkpoint and ends instead of training on unowned."""
    with contextlib.suppress(OSError, AttributeError):  # Linux only: elsewhere, nothing
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def run_seed_processes(args, text_path, vocab_size):
    """run_seeds, once the text is known to be good and readable by every child."""
    encoding = args.encoding if text_path == args.text else "utf-8"
    seeds = list(dict.fromkeys(args.seeds))
    jobs = min(args.jobs or os.cpu_count() or 1, len(seeds))
    out_root = args.out or "runs"
    run_dir = lambda s: os.path.join(out_root, f"seed-{s}")  # noqa: E731
    # exit codes of a run that was stopped: it saved and exited, or (stopped before it could set
    # its handlers) the signal ended it
    stopped = (*(128 + s for s in STOP_SIGNALS), *(-s for s in STOP_SIGNALS))
    if args.resume:  # a seed that never started takes the group's options from a started one
        started = [c for c in (os.path.join(run_dir(s), "checkpoint.npz") for s in seeds)
                   if os.path.exists(c)]
        if started:
            for k, v in load_checkpoint(started[0])["hparams"].items():
                if k != "seed" and getattr(args, k) is None:
                    setattr(args, k, v)
    check_memory({**HPARAM_DEFAULTS, **{k: getattr(args, k) for k in HPARAM_DEFAULTS
                                        if getattr(args, k) is not None}}, vocab_size, jobs)
    own_run_dir(out_root, "running a --seeds group there")  # one group per folder, as one writer per run
    common = [text_path, "--iters", str(args.iters), "--checkpoint-every", str(args.checkpoint_every),
              "--encoding", encoding, "--print-interval", "1e9"]
    for k in HPARAM_DEFAULTS:
        if k != "seed" and getattr(args, k) is not None:
            common += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
    # one BLAS thread per process, so the runs do not fight over the cores
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    stop = []
    running, results, launched = {}, {}, {}
    seq_length = args.seq_length or HPARAM_DEFAULTS["seq_length"]
    pending = list(seeds)

    def on_signal(signum, frame):
        stop.append(signum)
        for proc, _ in running.values():
            proc.send_signal(signum)  # each run saves its checkpoint and exits
    handlers = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    print(f"training seeds {', '.join(map(str, seeds))} in {jobs} parallel processes "
          f"into {out_root}/seed-<s>/", flush=True)
    t_start, last_status = time.perf_counter(), time.perf_counter()
    try:
        while running or (pending and not stop):
            while pending and len(running) < jobs and not stop:
                s = pending.pop(0)
                cmd = [sys.executable, os.path.abspath(__file__), *common,
                       "--seed", str(s), "--out", run_dir(s)]
                if args.resume and os.path.exists(os.path.join(run_dir(s), "checkpoint.npz")):
                    cmd.append("--resume")  # a seed that never started simply starts
                row = last_row(os.path.join(run_dir(s), "loss.csv")) if "--resume" in cmd else None
                launched[s] = (int(row[0]) if row else 0, time.perf_counter())  # for the speed
                err = tempfile.TemporaryFile("w+")  # the child's messages, its error last; read when it ends
                running[s] = (subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, env=env,
                                               preexec_fn=stop_with_parent), err)
                if stop:  # the signal came while Popen ran, before this run was in `running`
                    running[s][0].send_signal(stop[0])
            time.sleep(0.2)
            for s, (proc, err) in list(running.items()):
                if proc.poll() is not None:
                    err.seek(0)
                    lines = [l for l in err.read().splitlines() if l.strip()]
                    err.close()
                    why = lines[-1] if lines else f"exit code {proc.returncode}"
                    if proc.returncode < 0:  # a signal ended it before it could set its handlers
                        why = f"stopped by {signal.Signals(-proc.returncode).name} as it started"
                    results[s] = proc.returncode
                    del running[s]
                    if proc.returncode == 0:
                        already = any(ALREADY_FINISHED in line for line in lines)
                        print(f"seed {s}: " + ("already finished before, nothing to do" if already
                                               else "finished"), flush=True)
                    elif proc.returncode in stopped:
                        print(f"seed {s}: {why}", flush=True)
                    else:
                        print(f"seed {s}: FAILED: {why}", flush=True)
            now = time.perf_counter()
            if now - last_status >= args.status_interval and running:
                last_status = now
                for s in running:
                    row = last_row(os.path.join(run_dir(s), "loss.csv"))
                    print(f"seed {s}: " + (progress(int(row[0]), float(row[2]), seq_length, args.iters,
                                                    *launched[s], now) if row else "starting"), flush=True)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
        for proc, _ in running.values():  # only when an error ends the loop: the runs save and stop
            proc.send_signal(signal.SIGTERM)
    saved = {s for s in seeds if os.path.exists(os.path.join(run_dir(s), "checkpoint.npz"))}
    groups = {"finished": [s for s in seeds if results.get(s) == 0],
              "stopped, checkpoint saved": [s for s in seeds if results.get(s) in stopped and s in saved],
              "FAILED": [s for s in seeds if results.get(s) not in (None, 0, *stopped)],
              "not started": [s for s in seeds if s not in results
                              or (results[s] in stopped and s not in saved)]}
    print(f"after {format_seconds(time.perf_counter() - t_start)}: "
          + "; ".join(f"{k}: seed {', '.join(map(str, v))}" for k, v in groups.items() if v)
          + ("; continue with --resume" if stop else ""), flush=True)
    table = seeds_table({s: os.path.join(run_dir(s), "loss.csv") for s in seeds if s not in groups["FAILED"]},
                        seq_length, args.iters)  # a failed seed's folder may hold another run
    if table:
        print(table, flush=True)
    if groups["FAILED"]:
        print(f"min_char_rnn.py: error: seed {', '.join(map(str, groups['FAILED']))} failed (the reason "
              f"is above)", file=sys.stderr, flush=True)
        return 1
    return 128 + stop[0] if stop else 0


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def number(kind, low, strict, what, high=None):
    """An argparse type: a finite number of `kind` that is > low (strict) or >= low, and <= high.

    An integer is at most INT_MAX unless high says less: a run stores it in its checkpoint as
    int64 and must read it back."""
    high = INT_MAX if high is None and kind is int else high

    def parse(s):
        try:
            v = kind(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {s!r}")
        if not math.isfinite(v) or v < low or (strict and v == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low} ({what}), got {s}")
        if high is not None and v > high:
            raise argparse.ArgumentTypeError(f"must be <= {high} ({what}), got {s}")
        return v
    return parse


# Above this the Gumbel noise times T would overflow for some draws; long before it, every
# character is about equally likely whatever the model says.
TEMPERATURE_MAX = 1e6
# A training sample is built in memory and printed whole (--length streams any length).
SAMPLE_LENGTH_MAX = 10 ** 6


def fraction(s):
    """An argparse type: a number in [0, 1)."""
    v = number(float, 0, False, "a fraction")(s)
    if v >= 1:
        raise argparse.ArgumentTypeError(f"must be < 1 (a fraction of the text), got {s}")
    return v


def build_parser():
    d = HPARAM_DEFAULTS  # the defaults of the options fixed for a run, shown in the help
    ap = argparse.ArgumentParser(
        description="Train a character-level vanilla RNN, LSTM or GRU (truncated BPTT, Adagrad) "
                    "on a text file, or sample from a trained checkpoint.",
        epilog="Rerunning a command whose run has finished only reports it; a run that stopped "
               "part-way goes on with --resume.")
    ap.add_argument("text", nargs="?", help="training text (UTF-8 unless --encoding)")
    t = ap.add_argument_group("training (defaults are the classic script's)")
    t.add_argument("--cell", choices=tuple(CELLS),
                   help=f"rnn: the vanilla RNN; lstm or gru: a gated cell, trained by the same loop "
                        f"(default {d['cell']})")
    t.add_argument("--hidden-size", metavar="N", type=number(int, 1, False, "hidden units"),
                   help=f"number of hidden units (default {d['hidden_size']})")
    t.add_argument("--seq-length", metavar="N", type=number(int, 1, False, "characters per chunk"),
                   help=f"characters to unroll the RNN for, per iteration: the truncation length "
                        f"of BPTT (default {d['seq_length']})")
    t.add_argument("--learning-rate", metavar="X", type=number(float, 0, True, "Adagrad step"),
                   help=f"Adagrad learning rate (default {d['learning_rate']})")
    t.add_argument("--iters", metavar="N", type=number(int, 0, False, "0 runs until interrupted"),
                   default=100000,
                   help="total iterations of the run; 0 runs until interrupted (default 100000)")
    t.add_argument("--seed", metavar="N", type=number(int, 0, False, "a seed"),
                   help=f"random seed of the weights and training samples; also of the draws of "
                        f"--sample-from and --compare (default {d['seed']})")
    t.add_argument("--out", metavar="DIR",
                   help="output directory (default runs/seed-<seed>; with --seeds, runs)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in the output directory exactly where it stopped")
    t.add_argument("--init-from", metavar="CHECKPOINT",
                   help="start a new run from CHECKPOINT's weights only (its cell and hidden size), "
                        "with fresh Adagrad memory, a zero state and the data pointer at 0: what "
                        "reloading the weights does, unlike --resume")
    t.add_argument("--sample-every", metavar="N", type=number(int, 0, False, "0 never samples"),
                   help=f"draw a training sample every N iterations; 0 never (default {d['sample_every']})")
    t.add_argument("--sample-length", metavar="N",
                   type=number(int, 1, False, "characters", SAMPLE_LENGTH_MAX),
                   help=f"characters in each training sample (default {d['sample_length']})")
    t.add_argument("--log-every", metavar="N", type=number(int, 1, False, "iterations"),
                   help=f"write a loss.csv row every N iterations (default {d['log_every']})")
    t.add_argument("--val-frac", metavar="F", type=fraction,
                   help=f"hold out the last fraction F of the text: never trained on, it gives the "
                        f"held-out bits per character in val.csv (default {d['val_frac']}: none)")
    t.add_argument("--eval-every", metavar="N", type=number(int, 1, False, "iterations"),
                   help=f"with --val-frac, evaluate the held-out text every N iterations and at the "
                        f"end (default {d['eval_every']})")
    t.add_argument("--checkpoint-every", metavar="N", type=number(int, 1, False, "iterations"),
                   default=1000,
                   help="save checkpoint.npz every N iterations, besides at the end (default 1000)")
    t.add_argument("--encoding", metavar="NAME", default="utf-8",
                   help="encoding of the text (default utf-8)")
    t.add_argument("--print-interval", metavar="S", type=number(float, 0, False, "seconds"),
                   default=2.0,
                   help="print a loss line or sample at most once every S seconds; the files "
                        "get all of them (default 2; 0 prints every one)")
    m = ap.add_argument_group("several seeds")
    m.add_argument("--seeds", type=number(int, 0, False, "a seed"), nargs="+", metavar="S",
                   help="train one run per seed, in parallel processes, into OUT/seed-<s>/, and "
                        "end with a table of their final and lowest smoothed losses")
    m.add_argument("--jobs", metavar="N", type=number(int, 1, False, "processes"),
                   help="parallel runs with --seeds (default: the number of CPU cores)")
    m.add_argument("--status-interval", metavar="S", type=number(float, 0, False, "seconds"),
                   default=10.0,
                   help="seconds between status lines with --seeds (default 10)")
    s = ap.add_argument_group("sampling from a trained model")
    s.add_argument("--sample-from", metavar="CHECKPOINT",
                   help="print text generated from CHECKPOINT instead of training")
    s.add_argument("--compare", nargs="+", metavar="CHECKPOINT",
                   help="write greedy and multinomial samples of each CHECKPOINT to "
                        "SAMPLES_DIR/<run>.md; uses --prime, --length, --temperature and --seed")
    s.add_argument("--samples-dir", metavar="DIR", default="samples",
                   help="where --compare writes (default samples)")
    s.add_argument("--strategy", choices=("multinomial", "greedy"), default="multinomial",
                   help="multinomial draws from softmax(y / temperature) with --seed; greedy takes "
                        "the argmax, so it ignores --temperature and --seed (default multinomial)")
    s.add_argument("--length", metavar="N", type=number(int, 1, False, "characters"), default=500,
                   help="characters to generate (default 500)")
    s.add_argument("--temperature", metavar="T",
                   type=number(float, 0, True, "softmax temperature", TEMPERATURE_MAX),
                   default=1.0,
                   help="divide the scores by this before the softmax (default 1.0)")
    s.add_argument("--prime", metavar="TEXT",
                   help="text fed through the network before generating (default a newline)")
    return ap


def fail(message, code=1):
    print(f"min_char_rnn.py: error: {message}", file=sys.stderr)
    return code


def main(argv=None):
    signal.signal(signal.SIGINT, signal.default_int_handler)  # back from the quiet start-up
    ap = build_parser()
    ap.error = lambda message: sys.exit(fail(message, 2))  # one line, not the whole usage text
    args = ap.parse_args(argv)
    if args.out == "":
        return fail("--out is empty: give a folder, or leave the option out for runs/seed-<seed>", 2)
    try:
        if args.sample_from:
            return sample_from_checkpoint(args)
        if args.compare:
            return compare_strategies(args)
        if args.text is None:
            return fail("give a training text (python min_char_rnn.py input.txt), "
                        "or --sample-from CHECKPOINT", 2)
        return run_seeds(args) if args.seeds else train(args)
    except UserError as e:
        return fail(e)
    except KeyboardInterrupt:  # Ctrl-C before a run set its handlers (reading the text, ...)
        return fail("interrupted", 128 + signal.SIGINT)
    except MemoryError:  # what the up-front estimates (check_memory, read_text) did not foresee
        return fail("out of memory")


if __name__ == "__main__":
    if sys.stdout is None:  # started with stdout closed (>&-): what it would print goes nowhere
        sys.stdout = open(os.devnull, "w")
    sys.stdout = SafeStdout(sys.stdout)
    sys.exit(main())

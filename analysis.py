"""The analyses behind report.py: plain functions over weights, index arrays and numbers.

A library, not a command: report.py (its sections in report_sections/) imports it.
Nothing here reads or writes files, trains, or plots: report.py does that and calls these.
Each function answers one of the exercise's "why" questions and is checked on a small case
in tests/test_analysis.py.

    loss curves         curve_summary, spread (bits per character: charrnn.logs.bits_per_char)
    samples             words, known_word_share, distinct_ngram_share, find_loop,
                        self_bits_per_char, rank_samples, speakers, sample_features
    restarts            update_sizes, mean_abs_update, moved_share, window_mean
    clipping            clip_shares, clipped_blocks
    gradient flow       windows, state_gradients, geometric_mean, decay_per_step
    model size          rnn_parameters, lstm_parameters, fc_parameters, matching_hidden_size,
                        context_bits
    saturation          saturation, spectral_radius
    forgetting, loops   state_distances, loop_summary
    time                value_at

Gradient flow: for the loss at step t, loss_t = -log p(x_{t+1} | state_t), and the state
k steps earlier, state_{t-k}, state_gradients returns d loss_t / d state_{t-k} for k = 0..K
by backpropagating one vector through the recurrence (a vector-Jacobian product per step),
for many positions t at once. The Jacobians are written out here for each cell, apart from
the cell modules, so the tests can hold them against finite differences of the modules'
own forward pass (their step).
"""
import re

import numpy as np

from charrnn.logs import bits_per_char
from min_char_rnn import PARAM_NAMES, heldout_loss


USAGE = ("analysis.py: the analyses behind report.py, a library of functions with nothing to run; "
         "use `python report.py` (or import analysis)")


# ---------------------------------------------------------------------------
# Loss curves
# ---------------------------------------------------------------------------

def curve_summary(iterations, smooth_loss):
    """Final and lowest value of a smoothed-loss curve: (final, lowest, iteration of lowest)."""
    smooth_loss = np.asarray(smooth_loss, dtype=float)
    i = int(np.argmin(smooth_loss))  # the first iteration where the lowest value is reached
    return float(smooth_loss[-1]), float(smooth_loss[i]), int(iterations[i])


def spread(values):
    """(mean, sample standard deviation, min, max) of a few numbers, one per seed."""
    v = np.asarray(values, dtype=float)
    sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0  # ddof=1: a handful of seeds is a sample
    return float(v.mean()), sd, float(v.min()), float(v.max())


# ---------------------------------------------------------------------------
# Samples: words, loops and what the model thinks of its own text
# ---------------------------------------------------------------------------

WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")  # letters, with inner apostrophes: o'er, 'tis -> tis


def words(text):
    """The words of a text, lower-cased: runs of letters, apostrophes inside a word kept."""
    return WORD.findall(text.lower())


def known_word_share(ws, vocabulary):
    """Share of the words ws (a list, repeats counted) that occur in vocabulary (a set)."""
    if not ws:
        return float("nan")
    return sum(w in vocabulary for w in ws) / len(ws)


def distinct_ngram_share(ws, n=4):
    """Distinct word n-grams / all word n-grams: 1.0 when nothing repeats, low in a loop."""
    grams = [tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)]
    if not grams:
        return float("nan")
    return len(set(grams)) / len(grams)


def find_loop(text, min_repeats=3, min_length=20, max_period=None):
    """Where a text falls into a loop: (start, period), or None if it never does.

    A loop is a periodic ending: text[i] == text[i + period] for every i >= start, repeated
    at least min_repeats times and at least min_length characters long (so three spaces at
    the end are not a loop). Of all such endings the earliest start wins, then the shortest
    period (the loop's own period, not a multiple of it).
    """
    a = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    n = len(a)
    best = None
    for period in range(1, (max_period or n // min_repeats) + 1):
        if min_repeats * period > n:
            break
        differ = np.flatnonzero(a[:n - period] != a[period:])
        start = int(differ[-1]) + 1 if len(differ) else 0  # periodic from here to the end
        if n - start >= max(min_repeats * period, min_length) and (best is None or start < best[0]):
            best = (start, period)  # periods grow, so a tie keeps the shorter one
    return best


def self_bits_per_char(cell, params, ixs, n_given):
    """-mean log2 p the model gives the characters ixs[n_given:], each after all before it.

    ixs: the prime (n_given characters) followed by what was generated from it; the text is
    read from a zero state, as generation primes it, and the prime's own characters are not
    counted (their targets are padding, -1). cell: the cell's module, for the trainer's
    held-out loss (min_char_rnn.heldout_loss).
    """
    ixs = np.asarray(ixs, dtype=np.intp)
    inputs, targets = ixs[:-1].copy(), ixs[1:].copy()
    targets[:n_given - 1] = -1  # position i predicts ixs[i + 1]: the prime is given, not scored
    nats = heldout_loss([(inputs[:, None], targets[:, None])], params, cell)
    return bits_per_char(nats, len(ixs) - n_given)


def rank_samples(samples, vocabulary, min_words=10):
    """Training samples, best first, by the share of their words found in the training text.

    samples: (name, text) pairs. Ties go to the sample with more distinct known words (a
    longer real vocabulary beats a few short words); samples with fewer than min_words
    words are left out. Returns (name, text, share, distinct known words, words) tuples.
    """
    scored = []
    for name, text in samples:
        ws = words(text)
        if len(ws) >= min_words:
            known = {w for w in ws if w in vocabulary}
            scored.append((name, text, known_word_share(ws, vocabulary), len(known), len(ws)))
    return sorted(scored, key=lambda s: (-s[2], -s[3]))


SPEAKER = re.compile(r"^ *([A-Z][A-Z' ]*[A-Z])[.:]$", re.M)  # a line that is a name in capitals: MACBETH.
STAGE = re.compile(r"\[[^\]\n]*\]?|\b(?:Enter|Exit|Exeunt)\b")  # [Exit.], Enter Romeo


def speakers(text):
    """The speaker headings of a text: the names of its lines that are a name in capitals."""
    return set(SPEAKER.findall(text))


def sample_features(text, known_speakers):
    """What a sample shows the model has learnt of a play's form: (speaker headings that are
    names of the training text, headings in that form with an invented name, stage
    directions, the number of non-empty lines)."""
    heads = SPEAKER.findall(text)
    real = [h for h in heads if h in known_speakers]
    invented = [h for h in heads if h not in known_speakers]
    return real, invented, STAGE.findall(text), sum(bool(ln.strip()) for ln in text.split("\n"))


# ---------------------------------------------------------------------------
# Restarts: how far the parameters move, and the loss around the restart
# ---------------------------------------------------------------------------

def update_sizes(snapshots, names=PARAM_NAMES):
    """Mean |change| of each parameter between consecutive snapshots.

    snapshots: params dicts theta_0, theta_1, ..., theta_S (one per iteration). Returns an
    (S, len(names)) array: row j-1, column q is mean |theta_j[q] - theta_{j-1}[q]|.
    """
    return np.array([[float(np.abs(b[q] - a[q]).mean()) for q in names]
                     for a, b in zip(snapshots[:-1], snapshots[1:])])


def mean_abs_update(snapshots):
    """Mean |change| over all parameter entries together, per step: one number per step."""
    return np.array([sum(float(np.abs(b[q] - a[q]).sum()) for q in a) / sum(a[q].size for q in a)
                     for a, b in zip(snapshots[:-1], snapshots[1:])])


def moved_share(before, after, threshold):
    """Share of all parameter entries (every array of the dicts) that moved by more than threshold."""
    moved = sum(int((np.abs(after[q] - before[q]) > threshold).sum()) for q in before)
    return moved / sum(before[q].size for q in before)


def window_mean(iterations, values, lo, hi):
    """Mean of the values logged at iterations lo <= it < hi (nan if none)."""
    it, v = np.asarray(iterations), np.asarray(values, dtype=float)
    sel = (it >= lo) & (it < hi)
    return float(v[sel].mean()) if sel.any() else float("nan")


# ---------------------------------------------------------------------------
# Clipping
# ---------------------------------------------------------------------------

def clip_shares(clipped, names=PARAM_NAMES):
    """From the 'clipped' column of loss.csv (one string per logged iteration, the names of
    the parameters with a clipped gradient entry, space-separated): the share of logged
    iterations with each parameter clipped, and with any."""
    sets = [set(c.split()) for c in clipped]
    n = len(sets)
    shares = {q: sum(q in s for s in sets) / n if n else float("nan") for q in names}
    shares["any"] = sum(bool(s) for s in sets) / n if n else float("nan")
    return shares


def clipped_blocks(grad, n_blocks, limit=5.0):
    """Which of the n_blocks equal row blocks of a clipped gradient (the gates' blocks of bh,
    say) hold an entry at the clipping limit: a bool per block."""
    blocks = np.split(np.abs(np.asarray(grad)), n_blocks, axis=0)
    return np.array([bool((b >= limit).any()) for b in blocks])


# ---------------------------------------------------------------------------
# Gradient flow through the recurrence
# ---------------------------------------------------------------------------

def windows(data, ends, length):
    """Streams of text for state_gradients: inputs (length, B) and targets (B,).

    Column b is the `length` characters ending at index ends[b]; its target is the
    character after, data[ends[b] + 1].
    """
    ends = np.asarray(ends, dtype=np.intp)
    inputs = np.stack([data[e - length + 1:e + 1] for e in ends], axis=1)
    return inputs.astype(np.intp), np.asarray(data[ends + 1], dtype=np.intp)


def sigmoid(z):
    return 0.5 + 0.5 * np.tanh(0.5 * z)  # 1 / (1 + exp(-z)) without overflow


def rnn_forward(params, inputs):
    """Per-step values of the vanilla RNN over B streams from h = 0: what its Jacobians need."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    T, B = inputs.shape
    hs = np.zeros((T + 1, B, Whh.shape[1]))  # hs[s + 1]: h after inputs[s]
    for s, x in enumerate(inputs):
        hs[s + 1] = np.tanh(Wxh.T[x] + hs[s] @ Whh.T + bh.T)
    return {"h": hs}


def rnn_vjp(params, fw, s, g):
    """d loss / d h_{s-1} from g = d loss / d h_s:  Whh^T ((1 - h_s^2) * g), one row per stream."""
    h = fw["h"][s]
    return (g * (1 - h * h)) @ params["Whh"]


def gru_forward(params, inputs):
    """Per-step values of the GRU (blocks r, u, n of Wxh, Whh, bh) over B streams from h = 0."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    T, B = inputs.shape
    H = Whh.shape[1]
    hs = np.zeros((T + 1, B, H))
    r, u, n = (np.zeros((T + 1, B, H)) for _ in range(3))  # index s + 1, as hs
    for s, x in enumerate(inputs):
        xz = Wxh.T[x] + bh.T  # (B, 3H)
        h = hs[s]
        r[s + 1] = sigmoid(xz[:, :H] + h @ Whh[:H].T)
        u[s + 1] = sigmoid(xz[:, H:2 * H] + h @ Whh[H:2 * H].T)
        n[s + 1] = np.tanh(xz[:, 2 * H:] + (r[s + 1] * h) @ Whh[2 * H:].T)
        hs[s + 1] = (1 - u[s + 1]) * n[s + 1] + u[s + 1] * h
    return {"h": hs, "r": r, "u": u, "n": n}


def gru_vjp(params, fw, s, g):
    """d loss / d h_{s-1} from g = d loss / d h_s, through h_s = (1 - u) n + u h_{s-1}."""
    Whh = params["Whh"]
    H = Whh.shape[1]
    h_prev, r, u, n = fw["h"][s - 1], fw["r"][s], fw["u"][s], fw["n"][s]
    dz_n = g * (1 - u) * (1 - n * n)  # through n = tanh(z_n)
    drh = dz_n @ Whh[2 * H:]  # reaches r * h_{s-1}
    dz_r = drh * h_prev * r * (1 - r)
    dz_u = g * (h_prev - n) * u * (1 - u)
    # four paths to h_{s-1}: directly (u), inside n (r), through r's and u's pre-activations
    return g * u + drh * r + dz_r @ Whh[:H] + dz_u @ Whh[H:2 * H]


def lstm_forward(params, inputs):
    """Per-step values of the LSTM (blocks i, f, o, g) over B streams from h = c = 0."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    T, B = inputs.shape
    H = Whh.shape[1]
    hs, cs = np.zeros((T + 1, B, H)), np.zeros((T + 1, B, H))
    gates = np.zeros((T + 1, 4, B, H))  # gates[s + 1]: i, f, o, g after inputs[s]
    for s, x in enumerate(inputs):
        z = Wxh.T[x] + bh.T + hs[s] @ Whh.T  # (B, 4H)
        i, f, o = (sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        gg = np.tanh(z[:, 3 * H:])
        cs[s + 1] = f * cs[s] + i * gg
        hs[s + 1] = o * np.tanh(cs[s + 1])
        gates[s + 1] = i, f, o, gg
    return {"h": hs, "c": cs, "gates": gates}


def lstm_vjp(params, fw, s, g):
    """d loss / d (h_{s-1}, c_{s-1}) from g = d loss / d (h_s, c_s), each state H + H wide.

    The state is the pair (h, c), as the training loop carries it: c_s enters h_s and
    c_{s+1}; h_s enters the gates of step s + 1 (and the output).
    """
    H = params["Whh"].shape[1]
    gh, gc = g[:, :H], g[:, H:]
    i, f, o, gg = fw["gates"][s]
    tc = np.tanh(fw["c"][s])
    dc = gc + gh * o * (1 - tc * tc)  # everything that reaches c_s, through h_s too
    dz = np.concatenate([dc * gg * i * (1 - i),  # input gate
                         dc * fw["c"][s - 1] * f * (1 - f),  # forget gate
                         gh * tc * o * (1 - o),  # output gate
                         dc * i * (1 - gg * gg)], axis=1)  # candidate
    return np.concatenate([dz @ params["Whh"], dc * f], axis=1)  # to h_{s-1}, to c_{s-1}


CELL_GRADIENTS = {"rnn": (rnn_forward, rnn_vjp), "gru": (gru_forward, gru_vjp),
                  "lstm": (lstm_forward, lstm_vjp)}


def state_gradients(cell_name, params, inputs, targets, K):
    """d loss_t / d state_{t-k} for k = 0..K, for B streams at once: an array (K + 1, B, S).

    inputs (T, B), targets (B,): each stream starts from the zero state, reads its T inputs
    (T > K; the first T - 1 - K are a warm-up that brings the state to typical values), and
    loss_t = -log p(target | state after the last input). state_{t-k} is the state after
    input T - 1 - k; S is its width: H, or 2H for the LSTM (h and c, as carried).
    """
    forward, vjp = CELL_GRADIENTS[cell_name]
    inputs = np.asarray(inputs, dtype=np.intp)
    T, B = inputs.shape
    if T <= K:
        raise ValueError(f"need more than K = {K} inputs per stream, got {T}")
    fw = forward(params, inputs)
    Why, by = params["Why"], params["by"]
    y = fw["h"][T] @ Why.T + by.T
    p = np.exp(y - y.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(B), targets] -= 1  # d loss / d y = p - onehot(target)
    g = p @ Why  # d loss / d h_t
    if cell_name == "lstm":
        g = np.concatenate([g, np.zeros_like(g)], axis=1)  # loss_t does not see c_t but through h_t
    grads = np.empty((K + 1, B, g.shape[1]))
    grads[0] = g
    for k in range(1, K + 1):
        g = vjp(params, fw, T - k + 1, g)  # from the state after input T - k to the one before
        grads[k] = g
    return grads


def geometric_mean(x, axis=-1):
    """exp(mean(log x)): the average of norms that span many orders of magnitude."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        return np.exp(np.log(np.maximum(x, 1e-300)).mean(axis=axis))


def decay_per_step(k, norms, lo, hi):
    """The factor by which the norm shrinks per step back in time, fitted over lo <= k <= hi.

    A straight line through log10(norm) against k (least squares); returns 10 ** slope. A
    factor of 0.8 means the gradient from 25 steps back is 0.8 ** 25 = 0.4% of the nearest.
    """
    k, norms = np.asarray(k), np.asarray(norms, dtype=float)
    sel = (k >= lo) & (k <= hi)
    slope = np.polyfit(k[sel], np.log10(np.maximum(norms[sel], 1e-300)), 1)[0]
    return float(10 ** slope)


# ---------------------------------------------------------------------------
# Model size and the same weights on contexts of any length
# ---------------------------------------------------------------------------

def rnn_parameters(V, H):
    """Parameters of the vanilla RNN: Wxh (H x V), Whh (H x H), Why (V x H), bh (H), by (V)."""
    return H * V + H * H + V * H + H + V


def lstm_parameters(V, H):
    """Parameters of the LSTM: four blocks of Wxh, Whh and bh (i, f, o, g), then Why and by."""
    return 4 * (H * V + H * H + H) + V * H + V


def fc_parameters(sizes):
    """Parameters of a fully-connected network with layer widths sizes (input first): a
    weight matrix and a bias per layer."""
    return sum(m * n + n for m, n in zip(sizes[:-1], sizes[1:]))


def matching_hidden_size(V, H):
    """The hidden size of a vanilla RNN whose parameter count is nearest the LSTM's of size H."""
    target = lstm_parameters(V, H)
    return min(range(1, 4 * H + 1), key=lambda h: abs(rnn_parameters(V, h) - target))


def context_bits(cell, params, data, ends, length):
    """Bits per character of predicting data[e + 1] after reading only the `length` characters
    ending at e, from a zero state, for every e of ends: the same weights on any length."""
    inputs, targets = windows(data, ends, length)
    tg = np.full(inputs.shape, -1, dtype=np.intp)
    tg[-1] = targets  # only the character after the whole context is scored
    return bits_per_char(heldout_loss([(inputs, tg)], params, cell), len(ends))


# ---------------------------------------------------------------------------
# Saturation: how much of the vanilla RNN's state sits where tanh is flat
# ---------------------------------------------------------------------------

def saturation(hs, threshold=0.95):
    """(share of hidden values with |h| > threshold, mean tanh'(a) = mean(1 - h^2)) of an
    array of tanh outputs h."""
    hs = np.asarray(hs, dtype=float)
    return float((np.abs(hs) > threshold).mean()), float((1 - hs * hs).mean())


def spectral_radius(W):
    """The largest |eigenvalue| of a square matrix: how much W alone can stretch a vector per
    step in the long run."""
    return float(np.abs(np.linalg.eigvals(W)).max())


# ---------------------------------------------------------------------------
# Forgetting: two states, fed the same characters, come together
# ---------------------------------------------------------------------------

def state_distances(cell, params, states, ixs):
    """Feed the characters ixs to each state of states (2, S) with the cell's step; returns
    |state_a - state_b| after each character: how fast the network forgets where it started."""
    w = cell.step_weights(params)
    a_, b_ = (np.array(s, dtype=float).ravel() for s in states)
    out = []
    for ix in ixs:
        a_, b_ = cell.step(a_, ix, w), cell.step(b_, ix, w)
        out.append(float(np.linalg.norm(a_ - b_)))
    return np.array(out)


def loop_summary(loops, length):
    """Of the loops (start, period) or None of several texts of `length` characters: (how many
    loop, the median start of those that do (nan if none), their shortest and longest period)."""
    found = [lp for lp in loops if lp is not None]
    if not found:
        return 0, float("nan"), float("nan"), float("nan")
    starts, periods = [lp[0] for lp in found], [lp[1] for lp in found]
    return len(found), float(np.median(starts)), min(periods), max(periods)


# ---------------------------------------------------------------------------
# Time: held-out bits per character after a given number of seconds of training
# ---------------------------------------------------------------------------

def value_at(x, y, x0):
    """y at x0 by linear interpolation of the curve (x, y), x increasing; nan beyond its ends."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not (x[0] <= x0 <= x[-1]):
        return float("nan")
    return float(np.interp(x0, x, y))


if __name__ == "__main__":
    print(USAGE)

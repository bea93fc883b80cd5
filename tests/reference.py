"""The classic formulation, written plainly: one time step at a time, one-hot column vectors.

The tests compare the project's vectorised code with this; benchmarks/bench_train.py
times it as the per-step baseline. Keep it simple and obviously right, not fast.
"""
import sys

import numpy as np


def init_params_ref(V, H, rng):
    return {"Wxh": rng.standard_normal((H, V)) * 0.01,
            "Whh": rng.standard_normal((H, H)) * 0.01,
            "Why": rng.standard_normal((V, H)) * 0.01,
            "bh": np.zeros((H, 1)), "by": np.zeros((V, 1))}


def zero_state_ref(H):
    return np.zeros((H, 1))


def softmax_ref(y):
    """p = softmax(y) for a column of scores, as the classic script writes it."""
    return np.exp(y) / np.sum(np.exp(y))


def output_backward_ref(p, target, h, Why, dWhy, dby):
    """The output layer's part of one backward step: dy = p - onehot(target) is added into
    dWhy and dby; returns Why^T dy, the gradient it sends into h."""
    dy = np.copy(p)
    dy[target] -= 1
    dWhy += np.dot(dy, h.T)
    dby += dy
    return np.dot(Why.T, dy)


def step_ref(h, ix, params):
    """One step from hidden state h on character ix: returns (new h, scores y)."""
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    x = np.zeros((Wxh.shape[1], 1))
    x[ix] = 1
    h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h) + bh)
    return h, np.dot(Why, h) + by


def lossFun_ref(inputs, targets, hprev, params):
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    V = Wxh.shape[1]
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ps[t] = softmax_ref(np.dot(Why, hs[t]) + by)
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dh = output_backward_ref(ps[t], targets[t], hs[t], Why, dWhy, dby) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    for dparam in (dWxh, dWhh, dWhy, dbh, dby):
        np.clip(dparam, -5, 5, out=dparam)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def sample_ref(h, seed_ix, n, params, rng, step=step_ref):
    """Multinomial sampling at temperature 1, as the classic script does it, with a cell's
    one-step function step(state, ix, params) -> (new state, scores y)."""
    V = params["Wxh"].shape[1]
    ix, ixes = seed_ix, []
    for _ in range(n):
        h, y = step(h, ix, params)
        ix = rng.choice(range(V), p=softmax_ref(y).ravel())
        ixes.append(ix)
    return ixes


def greedy_ref(h, seed_ix, n, params, step=step_ref):
    """Greedy decoding: the most probable next character at every step."""
    ix, out = seed_ix, []
    for _ in range(n):
        h, y = step(h, ix, params)
        ix = int(np.argmax(softmax_ref(y)))
        out.append(ix)
    return out


def adagrad_ref(params, grads, mem, learning_rate):
    for name, dparam in zip(("Wxh", "Whh", "Why", "bh", "by"), grads, strict=True):
        mem[name] += dparam * dparam
        params[name] += -learning_rate * dparam / np.sqrt(mem[name] + 1e-8)


def train_ref(data, vocab_size, iters, hidden_size=100, seq_length=25, learning_rate=0.1,
              seed=1, sample_every=100, sample_length=200, cell=None):
    """The classic training loop on an index array; returns (params, smooth_loss).

    cell: the reference module of the cell (reference_lstm, reference_gru); default this one.
    Every cell samples with sample_ref here, through its own step_ref.
    """
    cell = cell or sys.modules[__name__]
    rng = np.random.default_rng(seed)
    params = cell.init_params_ref(vocab_size, hidden_size, rng)
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    smooth_loss = -np.log(1.0 / vocab_size) * seq_length
    n, p = 0, 0
    hprev = cell.zero_state_ref(hidden_size)
    while n < iters:
        if p + seq_length + 1 >= len(data) or n == 0:
            hprev = cell.zero_state_ref(hidden_size)
            p = 0
        inputs = [int(c) for c in data[p:p + seq_length]]
        targets = [int(c) for c in data[p + 1:p + seq_length + 1]]
        if sample_every and n % sample_every == 0:
            sample_ref(hprev, inputs[0], sample_length, params, rng, cell.step_ref)
        loss, dWxh, dWhh, dWhy, dbh, dby, hprev = cell.lossFun_ref(inputs, targets, hprev, params)
        smooth_loss = smooth_loss * 0.999 + loss * 0.001
        adagrad_ref(params, (dWxh, dWhh, dWhy, dbh, dby), mem, learning_rate)
        p += seq_length
        n += 1
    return params, smooth_loss

"""The LSTM written plainly: one time step at a time, one-hot column vectors.

The tests compare min_char_lstm.py's vectorised code with this; the benchmark times it as
the per-step baseline. Keep it simple and obviously right, not fast. It samples
with reference.sample_ref and greedy_ref, through step_ref here.

    z = Wxh x + Whh h + bh, four blocks of H rows: input, forget, output, candidate
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
    c = f * c + i * g;  h = o * tanh(c);  y = Why h + by;  p = softmax(y)

The carried state is one 2H x 1 column: h above c.
"""
import numpy as np
from reference import output_backward_ref, softmax_ref


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def init_params_ref(V, H, rng):
    params = {"Wxh": rng.standard_normal((4 * H, V)) * 0.01,
              "Whh": rng.standard_normal((4 * H, H)) * 0.01,
              "Why": rng.standard_normal((V, H)) * 0.01,
              "bh": np.zeros((4 * H, 1)), "by": np.zeros((V, 1))}
    params["bh"][H:2 * H] = 1  # forget gate
    return params


def zero_state_ref(H):
    return np.zeros((2 * H, 1))


def step_ref(state, ix, params):
    """One step from the 2H x 1 state on character ix: returns (new state, scores y)."""
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    V, H = Wxh.shape[1], Whh.shape[1]
    x = np.zeros((V, 1))
    x[ix] = 1
    h, c = state[:H], state[H:]
    z = np.dot(Wxh, x) + np.dot(Whh, h) + bh
    i, f, o, g = sigmoid(z[:H]), sigmoid(z[H:2 * H]), sigmoid(z[2 * H:3 * H]), np.tanh(z[3 * H:])
    c = f * c + i * g
    h = o * np.tanh(c)
    return np.vstack((h, c)), np.dot(Why, h) + by


def lossFun_ref(inputs, targets, hprev, params):
    Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    V, H = Wxh.shape[1], Whh.shape[1]
    xs, hs, cs, ii, ff, oo, gg, ps = {}, {}, {}, {}, {}, {}, {}, {}
    hs[-1] = np.copy(hprev[:H])
    cs[-1] = np.copy(hprev[H:])
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
        z = np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh
        ii[t] = sigmoid(z[:H])
        ff[t] = sigmoid(z[H:2 * H])
        oo[t] = sigmoid(z[2 * H:3 * H])
        gg[t] = np.tanh(z[3 * H:])
        cs[t] = ff[t] * cs[t - 1] + ii[t] * gg[t]
        hs[t] = oo[t] * np.tanh(cs[t])
        ps[t] = softmax_ref(np.dot(Why, hs[t]) + by)
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext, dcnext = np.zeros((H, 1)), np.zeros((H, 1))
    for t in reversed(range(len(inputs))):
        dh = output_backward_ref(ps[t], targets[t], hs[t], Why, dWhy, dby) + dhnext
        do = dh * np.tanh(cs[t])
        dc = dh * oo[t] * (1 - np.tanh(cs[t]) ** 2) + dcnext
        di = dc * gg[t]
        df = dc * cs[t - 1]
        dg = dc * ii[t]
        dz = np.vstack((di * ii[t] * (1 - ii[t]),
                        df * ff[t] * (1 - ff[t]),
                        do * oo[t] * (1 - oo[t]),
                        dg * (1 - gg[t] ** 2)))
        dbh += dz
        dWxh += np.dot(dz, xs[t].T)
        dWhh += np.dot(dz, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dz)
        dcnext = dc * ff[t]
    for dparam in (dWxh, dWhh, dWhy, dbh, dby):
        np.clip(dparam, -5, 5, out=dparam)
    T = len(inputs)
    return loss, dWxh, dWhh, dWhy, dbh, dby, np.vstack((hs[T - 1], cs[T - 1]))

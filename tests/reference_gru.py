"""The GRU written plainly: one time step at a time, one-hot column vectors.

The tests compare min_char_gru.py's vectorised code with this; the benchmark times it as
the per-step baseline. Keep it simple and obviously right, not fast. It samples
with reference.sample_ref and greedy_ref, through step_ref here.

    r = sigmoid(Wxh_r x + Whh_r h + bh_r);  u = sigmoid(Wxh_u x + Whh_u h + bh_u)
    n = tanh(Wxh_n x + Whh_n (r * h) + bh_n);  h = (1 - u) * n + u * h
    y = Why h + by;  p = softmax(y)

Wxh, Whh and bh hold three blocks of H rows: r, u, n.
"""
import numpy as np
from reference import output_backward_ref, softmax_ref


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def init_params_ref(V, H, rng):
    return {"Wxh": rng.standard_normal((3 * H, V)) * 0.01,
            "Whh": rng.standard_normal((3 * H, H)) * 0.01,
            "Why": rng.standard_normal((V, H)) * 0.01,
            "bh": np.zeros((3 * H, 1)), "by": np.zeros((V, 1))}


def zero_state_ref(H):
    return np.zeros((H, 1))


def blocks(params):
    """The weights of r, u and n, each block on its own."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    H = Whh.shape[1]
    return [(Wxh[k * H:(k + 1) * H], Whh[k * H:(k + 1) * H], bh[k * H:(k + 1) * H]) for k in range(3)]


def step_ref(h, ix, params):
    """One step from hidden state h on character ix: returns (new h, scores y)."""
    (Wxr, Whr, br), (Wxu, Whu, bu), (Wxn, Whn, bn) = blocks(params)
    V = Wxr.shape[1]
    x = np.zeros((V, 1))
    x[ix] = 1
    r = sigmoid(np.dot(Wxr, x) + np.dot(Whr, h) + br)
    u = sigmoid(np.dot(Wxu, x) + np.dot(Whu, h) + bu)
    n = np.tanh(np.dot(Wxn, x) + np.dot(Whn, r * h) + bn)
    h = (1 - u) * n + u * h
    return h, np.dot(params["Why"], h) + params["by"]


def lossFun_ref(inputs, targets, hprev, params):
    (Wxr, Whr, br), (Wxu, Whu, bu), (Wxn, Whn, bn) = blocks(params)
    Why, by = params["Why"], params["by"]
    V = Wxr.shape[1]
    xs, hs, rs, us, ns, ps = {}, {}, {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
        rs[t] = sigmoid(np.dot(Wxr, xs[t]) + np.dot(Whr, hs[t - 1]) + br)
        us[t] = sigmoid(np.dot(Wxu, xs[t]) + np.dot(Whu, hs[t - 1]) + bu)
        ns[t] = np.tanh(np.dot(Wxn, xs[t]) + np.dot(Whn, rs[t] * hs[t - 1]) + bn)
        hs[t] = (1 - us[t]) * ns[t] + us[t] * hs[t - 1]
        ps[t] = softmax_ref(np.dot(Why, hs[t]) + by)
        loss += -np.log(ps[t][targets[t], 0])
    dWxr, dWxu, dWxn = np.zeros_like(Wxr), np.zeros_like(Wxu), np.zeros_like(Wxn)
    dWhr, dWhu, dWhn = np.zeros_like(Whr), np.zeros_like(Whu), np.zeros_like(Whn)
    dbr, dbu, dbn = np.zeros_like(br), np.zeros_like(bu), np.zeros_like(bn)
    dWhy, dby = np.zeros_like(Why), np.zeros_like(by)
    dhnext = np.zeros_like(hprev)
    for t in reversed(range(len(inputs))):
        dh = output_backward_ref(ps[t], targets[t], hs[t], Why, dWhy, dby) + dhnext
        dn = dh * (1 - us[t])
        du = dh * (hs[t - 1] - ns[t])
        dzn = dn * (1 - ns[t] ** 2)
        drh = np.dot(Whn.T, dzn)  # the gradient reaching r * h
        dr = drh * hs[t - 1]
        dzr = dr * rs[t] * (1 - rs[t])
        dzu = du * us[t] * (1 - us[t])
        dWxr += np.dot(dzr, xs[t].T)
        dWxu += np.dot(dzu, xs[t].T)
        dWxn += np.dot(dzn, xs[t].T)
        dWhr += np.dot(dzr, hs[t - 1].T)
        dWhu += np.dot(dzu, hs[t - 1].T)
        dWhn += np.dot(dzn, (rs[t] * hs[t - 1]).T)
        dbr += dzr
        dbu += dzu
        dbn += dzn
        dhnext = dh * us[t] + drh * rs[t] + np.dot(Whr.T, dzr) + np.dot(Whu.T, dzu)
    dWxh = np.vstack((dWxr, dWxu, dWxn))
    dWhh = np.vstack((dWhr, dWhu, dWhn))
    dbh = np.vstack((dbr, dbu, dbn))
    for dparam in (dWxh, dWhh, dWhy, dbh, dby):
        np.clip(dparam, -5, 5, out=dparam)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]

"""Minimal character-level GRU: the gated cell behind min_char_rnn.py's training loop.

The same chunk-by-chunk training as the vanilla RNN (truncated BPTT, Adagrad, the loss
summed over the chunk), with a gated recurrent unit (Cho et al., 2014) in place of the
tanh cell. Wxh, Whh and bh hold three blocks of H rows, in the order reset, update,
candidate (r, u, n):

    r_t = sigmoid(Wxh_r x_t + Whh_r h_{t-1} + bh_r)          (x_t: one-hot character)
    u_t = sigmoid(Wxh_u x_t + Whh_u h_{t-1} + bh_u)
    n_t = tanh(Wxh_n x_t + Whh_n (r_t * h_{t-1}) + bh_n)     (* is elementwise)
    h_t = (1 - u_t) * n_t + u_t * h_{t-1}
    y_t = Why h_t + by
    p_t = softmax(y_t)
    loss = sum_t -log p_t[target_t]                          (a sum over the chunk, not a mean)

Shapes: Wxh 3H x V, Whh 3H x H, bh 3H x 1, Why V x H, by V x 1; the carried state is
h, H x 1. Initialisation as the vanilla: weights N(0,1)*0.01 drawn in the order Wxh,
Whh, Why, all biases zero.

Here is only what the GRU changes. Everything else, from the output layer (softmax_loss)
to the sampler, the held-out loss and the training loop, is min_char_rnn's, run with this
module as the cell:

    python min_char_rnn.py input.txt --cell gru --val-frac 0.1
"""
import sys

import numpy as np

from min_char_rnn import PARAM_NAMES, gradient_views, softmax_loss


# ---------------------------------------------------------------------------
# Model parameters
# ---------------------------------------------------------------------------

def init_params(vocab_size, hidden_size, rng):
    """Weights N(0,1)*0.01, biases zero, drawn as the vanilla init_params draws them."""
    H, V = hidden_size, vocab_size
    return {
        "Wxh": rng.standard_normal((3 * H, V)) * 0.01,  # input to the blocks r, u, n
        "Whh": rng.standard_normal((3 * H, H)) * 0.01,  # hidden to the blocks r, u, n
        "Why": rng.standard_normal((V, H)) * 0.01,  # hidden to output
        "bh": np.zeros((3 * H, 1)),  # biases of r, u, n
        "by": np.zeros((V, 1)),  # output bias
    }


def zero_state(hidden_size):
    """The carried state at the start: h = 0, H x 1."""
    return np.zeros((hidden_size, 1))


# lossFun and step compute sigmoid(z) as 0.5 + 0.5 * tanh(z / 2): on vectors of a few
# hundred numbers the count of NumPy calls is what costs, and tanh is one call where
# 1 / (1 + exp(-z)) is three. Instead of halving z at every step they halve the r and u rows
# of Wxh, Whh and bh once; halving is exact in floating point, so this gives the same
# numbers as halving z.


# ---------------------------------------------------------------------------
# Forward and backward pass
# ---------------------------------------------------------------------------

def lossFun(inputs, targets, hprev, params, grads=None):
    """Loss and gradients of one chunk, by backpropagation through time: the contract of
    min_char_rnn.lossFun (the same arguments and returns, gradients clipped to [-5, 5]).
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    T, H, V = len(inputs), Whh.shape[1], Why.shape[0]

    # forward pass
    # Wxh @ x_t for a one-hot x_t is column inputs[t] of Wxh: no one-hot product needed.
    xz = Wxh.T[inputs]
    xz += bh.T  # row t: Wxh x_t + bh, blocks r, u, n
    xz[:, :2 * H] *= 0.5  # r and u halved (see the note above lossFun)
    Whh_ru = Whh[:2 * H] * 0.5  # Whh_r and Whh_u, halved
    Whh_n = Whh[2 * H:]
    hs = np.empty((T + 1, H))  # hs[t + 1] is h_t; hs[0] is hprev
    hs[0] = hprev.ravel()
    gates = np.empty((T, 3 * H))  # row t: r_t, u_t, n_t side by side
    gates3 = gates.reshape(T, 3, H)  # the same, as three rows of H per step
    rhs = np.empty((T, H))  # row t: r_t * h_{t-1}
    for a_t, a3_t, xz_t, h_prev, h_t, rh_t in zip(gates, gates3, xz, hs[:-1], hs[1:], rhs):
        ru, xz_ru = a_t[:2 * H], xz_t[:2 * H]
        r, u, n = a3_t
        # r, u = sigmoid(Wxh_{r,u} x_t + Whh_{r,u} h_{t-1} + bh_{r,u}), written in place
        # for speed as 0.5 + 0.5 * tanh(the halved sum)
        Whh_ru.dot(h_prev, out=ru)
        ru += xz_ru
        np.tanh(ru, out=ru)
        ru *= 0.5
        ru += 0.5
        np.multiply(r, h_prev, out=rh_t)  # r_t * h_{t-1}
        # n = tanh(Wxh_n x_t + Whh_n (r_t * h_{t-1}) + bh_n), in place
        Whh_n.dot(rh_t, out=n)
        n += xz_t[2 * H:]
        np.tanh(n, out=n)
        # h_t = (1 - u) * n + u * h_{t-1}, written as n + u * (h_{t-1} - n), in place
        np.subtract(h_prev, n, out=h_t)
        h_t *= u
        h_t += n
    grads, (dWxh, dWhh, dWhy, dbh, dby) = gradient_views(grads, params)
    # the output layer and the loss, forward and backward (dWhy, dby); row t of dhs is
    # Why^T dy_t, the gradient reaching h_t from the output
    loss, dhs = softmax_loss(hs[1:], targets, Why, by, dWhy, dby)

    # backward pass
    # What each block's pre-activation gradient dz is, for all time steps at once
    # (sigmoid' = s (1 - s), tanh' = 1 - tanh^2); drh_t = Whh_n^T dz_n is the gradient
    # reaching r_t * h_{t-1}:
    r, u, n = (gates3[:, k] for k in range(3))
    h_prev = hs[:-1]
    factor_r = h_prev * r * (1 - r)  # dz_r = drh_t * h_{t-1} * r_t (1 - r_t)
    factors_un = np.empty((T, 2, H))
    factors_un[:, 0] = (h_prev - n) * u * (1 - u)  # dz_u = dh_t * (h_{t-1} - n_t) * u_t (1 - u_t)
    factors_un[:, 1] = (1 - u) * (1 - n * n)  # dz_n = dh_t * (1 - u_t) * (1 - n_t^2)
    ru_rows = gates[:, :2 * H].reshape(T, 2, H)  # row t: r_t, u_t
    dz = np.empty((T, 3 * H))  # row t: dloss/dz_t, the blocks r, u, n side by side
    dhnext = np.zeros(H)
    direct = np.empty((2, H))  # drh_t and dh_t, then the parts of dhnext they pass on directly
    drh, dh = direct
    for dhs_t, fr_t, fun_t, ru_t, dz_t in zip(
            dhs[::-1], factor_r[::-1], factors_un[::-1], ru_rows[::-1], dz[::-1]):  # t = T-1 down to 0
        np.add(dhs_t, dhnext, out=dh)  # dh_t = Why^T dy_t + dhnext
        # dz_u, dz_n = dh_t * their factors, in place
        np.multiply(fun_t, dh, out=dz_t[H:].reshape(2, H))
        dz_t[2 * H:].dot(Whh_n, out=drh)  # drh_t = Whh_n^T dz_n
        np.multiply(drh, fr_t, out=dz_t[:H])  # dz_r = drh_t * h_{t-1} * r_t (1 - r_t)
        # dhnext = Whh_r^T dz_r + Whh_u^T dz_u + drh_t * r_t + dh_t * u_t, in place
        dz_t[:2 * H].dot(Whh[:2 * H], out=dhnext)
        direct *= ru_t  # now drh_t * r_t and dh_t * u_t
        dhnext += drh
        dhnext += dh
    # (not min_char_rnn.recurrence_weight_gradients: block n of Whh multiplies r * h, not h)
    onehot = np.zeros((T, V))
    onehot[np.arange(T), inputs] = 1  # row t: x_t^T
    np.matmul(dz.T, onehot, out=dWxh)  # sum_t dz_t x_t^T
    np.matmul(dz[:, :2 * H].T, h_prev, out=dWhh[:2 * H])  # blocks r, u: sum_t dz_t h_{t-1}^T
    np.matmul(dz[:, 2 * H:].T, rhs, out=dWhh[2 * H:])  # block n: sum_t dz_n (r_t * h_{t-1})^T
    dz.sum(axis=0, out=dbh[:, 0])  # sum_t dz_t
    np.clip(grads, -5, 5, out=grads)  # clip every gradient to [-5, 5]: mitigates exploding gradients
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[T][:, None].copy()


# ---------------------------------------------------------------------------
# One step, for sampling and the held-out loss
# ---------------------------------------------------------------------------

def step_weights(params):
    """What step reads, prepared once: row ix of "xz" is Wxh x + bh for the one-hot x of
    character ix, with the r and u parts halved (see above), as are Whh_r and Whh_u."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    H = Whh.shape[1]
    xz = Wxh.T + bh.T
    xz[:, :2 * H] *= 0.5
    return {"xz": xz, "W_ruT": (Whh[:2 * H] * 0.5).T, "W_nT": Whh[2 * H:].T, "H": H}


def step(h, ix, w):
    """One character through the cell: h of shape (H,) or (B, H)."""
    H, xz = w["H"], w["xz"][ix]
    ru = np.tanh(h @ w["W_ruT"] + xz[..., :2 * H])
    ru *= 0.5
    ru += 0.5  # r, u = sigmoid(Wxh x + Whh h + bh) in blocks r, u, as 0.5 + 0.5 tanh(halved)
    r, u = ru[..., :H], ru[..., H:]
    n = np.tanh((r * h) @ w["W_nT"] + xz[..., 2 * H:])  # n = tanh(Wxh_n x + Whh_n (r * h) + bh_n)
    return n + u * (h - n)  # h = (1 - u) * n + u * h, written as n + u * (h - n)


if __name__ == "__main__":  # this file holds the cell; min_char_rnn.py trains it
    from charrnn.cli import cell_file_main
    sys.exit(cell_file_main("gru", sys.argv[1:]))

"""Minimal character-level LSTM: the gated cell behind min_char_rnn.py's training loop.

The same chunk-by-chunk training as the vanilla RNN (truncated BPTT, Adagrad, the loss
summed over the chunk), with a long short-term memory cell in place of the tanh cell:

    z_t = Wxh x_t + Whh h_{t-1} + bh                (x_t: one-hot character)
    split z_t in four blocks of H rows, in the order input, forget, output, candidate:
    i_t = sigmoid(z_i)    f_t = sigmoid(z_f)    o_t = sigmoid(z_o)    g_t = tanh(z_g)
    c_t = f_t * c_{t-1} + i_t * g_t                 (* is elementwise)
    h_t = o_t * tanh(c_t)
    y_t = Why h_t + by
    p_t = softmax(y_t)
    loss = sum_t -log p_t[target_t]                 (a sum over the chunk, not a mean)

Shapes: Wxh 4H x V, Whh 4H x H, bh 4H x 1, Why V x H, by V x 1. The state carried from
chunk to chunk is ONE array of shape 2H x 1: h in rows 0..H-1, the cell c in rows H..2H-1.
Initialisation: weights N(0,1)*0.01 drawn in the order Wxh, Whh, Why (as the vanilla
init_params), biases zero except the forget-gate block of bh, which starts at 1 so the
cell remembers by default.

What the LSTM changes, and only that, is in this file: init_params with its forget-gate
bias and zero_state (h and c), lossFun, and step (with step_weights), the one-character
recurrence that min_char_rnn's sampler and held-out loss run with this module as their cell.

    python min_char_rnn.py input.txt --cell lstm --val-frac 0.1
"""
import sys

import numpy as np

from min_char_rnn import PARAM_NAMES, gradient_views, recurrence_weight_gradients, softmax_loss


# ---------------------------------------------------------------------------
# Model parameters
# ---------------------------------------------------------------------------

def init_params(vocab_size, hidden_size, rng):
    """Weights N(0,1)*0.01 (drawn as the vanilla does), biases zero but the forget gate's at 1."""
    H, V = hidden_size, vocab_size
    params = {
        "Wxh": rng.standard_normal((4 * H, V)) * 0.01,  # input to the four gate blocks
        "Whh": rng.standard_normal((4 * H, H)) * 0.01,  # hidden to the four gate blocks
        "Why": rng.standard_normal((V, H)) * 0.01,  # hidden to output
        "bh": np.zeros((4 * H, 1)),  # gate biases, blocks i, f, o, g
        "by": np.zeros((V, 1)),  # output bias
    }
    params["bh"][H:2 * H] = 1.0  # forget-gate bias 1: f starts near sigmoid(1) = 0.73
    return params


def zero_state(hidden_size):
    """The carried state at the start: h and c, stacked into one 2H x 1 array of zeros."""
    return np.zeros((2 * hidden_size, 1))


# lossFun and step compute sigmoid(z) as 0.5 + 0.5 * tanh(z / 2), so that ONE tanh over
# all four blocks gives tanh(z_g) and, for i, f, o, tanh(z / 2): on vectors of a few hundred
# numbers the count of NumPy calls is what costs. Instead of halving z at every step they
# halve the i, f, o rows of Wxh, Whh and bh once; halving is exact in floating point, so
# this gives the same numbers as halving z.


# ---------------------------------------------------------------------------
# Forward and backward pass
# ---------------------------------------------------------------------------

def lossFun(inputs, targets, hprev, params, grads=None):
    """Loss and gradients of one chunk, by backpropagation through time: the contract of
    min_char_rnn.lossFun (the same arguments and returns, gradients clipped to [-5, 5]).
    hprev and the returned h_last are the carried state, h above c (2H x 1).
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    T, H = len(inputs), Whh.shape[1]

    # forward pass
    Whh_s = Whh * 0.5
    Whh_s[3 * H:] = Whh[3 * H:]  # Whh with the i, f, o rows halved (see the note above lossFun)
    # Wxh @ x_t for a one-hot x_t is column inputs[t] of Wxh: no one-hot product needed.
    xz = Wxh.T[inputs]
    xz += bh.T  # row t: Wxh x_t + bh
    xz[:, :3 * H] *= 0.5  # i, f, o halved
    hs = np.empty((T + 1, H))  # hs[t + 1] is h_t; hs[0] is the carried h
    cs = np.empty((T + 1, H))  # cs[t + 1] is c_t; cs[0] is the carried c
    hs[0], cs[0] = np.split(hprev.ravel(), 2)  # hprev is h above c
    gates = np.empty((T, 4 * H))  # row t: i_t, f_t, o_t, g_t side by side
    gates4 = gates.reshape(T, 4, H)  # the same, as four rows of H per step
    tcs = np.empty((T, H))  # row t: tanh(c_t)
    ig = np.empty(H)
    for z_t, z4_t, xz_t, h_prev, h_t, c_prev, c_t, tc_t in zip(
            gates, gates4, xz, hs[:-1], hs[1:], cs[:-1], cs[1:], tcs):
        # z = Wxh x_t + Whh h_{t-1} + bh (i, f, o blocks halved), written in place for speed
        Whh_s.dot(h_prev, out=z_t)
        z_t += xz_t
        # i, f, o = sigmoid(z_ifo); g = tanh(z_g): one tanh over all blocks, then
        # sigmoid(z) = 0.5 + 0.5 * tanh(z / 2) on the first three
        np.tanh(z_t, out=z_t)
        ifo = z_t[:3 * H]
        ifo *= 0.5
        ifo += 0.5
        i, f, o, g = z4_t
        # c_t = f * c_{t-1} + i * g, in place
        np.multiply(f, c_prev, out=c_t)
        np.multiply(i, g, out=ig)
        c_t += ig
        # h_t = o * tanh(c_t), in place
        np.tanh(c_t, out=tc_t)
        np.multiply(o, tc_t, out=h_t)
    grads, (dWxh, dWhh, dWhy, dbh, dby) = gradient_views(grads, params)
    # the output layer and the loss, forward and backward (dWhy, dby); row t of dhs is
    # Why^T dy_t, the gradient reaching h_t from the output
    loss, dhs = softmax_loss(hs[1:], targets, Why, by, dWhy, dby)

    # backward pass
    # What each gate's pre-activation gradient dz is, times dc_t (i, f, g) or dh_t (o),
    # for all time steps at once (sigmoid' = s (1 - s), tanh' = 1 - tanh^2):
    i, f, o, g = (gates4[:, k] for k in range(4))
    factors = np.empty((T, 4, H))
    factors[:, 0] = g * i * (1 - i)  # dz_i = dc_t * g_t * i_t (1 - i_t)
    factors[:, 1] = cs[:-1] * f * (1 - f)  # dz_f = dc_t * c_{t-1} * f_t (1 - f_t)
    factors[:, 2] = tcs * o * (1 - o)  # dz_o = dh_t * tanh(c_t) * o_t (1 - o_t)
    factors[:, 3] = i * (1 - g * g)  # dz_g = dc_t * i_t * (1 - g_t^2)
    dc_dh = o * (1 - tcs * tcs)  # row t: dc_t receives dh_t * o_t * (1 - tanh(c_t)^2)
    dz = np.empty((T, 4 * H))  # row t: dloss/dz_t, the four blocks side by side
    dz4 = dz.reshape(T, 4, H)
    dhnext, dcnext, dc = np.zeros(H), np.zeros(H), np.empty(H)
    for dh_t, dcdh_t, f_t, fac_t, dz_t, dz4_t in zip(
            dhs[::-1], dc_dh[::-1], f[::-1], factors[::-1], dz[::-1], dz4[::-1]):  # t = T-1 down to 0
        dh_t += dhnext  # dh_t = Why^T dy_t + dhnext, in place
        # dc_t = dh_t * o_t * (1 - tanh(c_t)^2) + dcnext, in place
        np.multiply(dh_t, dcdh_t, out=dc)
        dc += dcnext
        np.multiply(dc, f_t, out=dcnext)  # dcnext = dc_t * f_t, what reaches c_{t-1}
        # dz_t = factors_t * (dc_t, dc_t, dh_t, dc_t): all four blocks times dc_t, then
        # block o again, times dh_t
        np.multiply(fac_t, dc, out=dz4_t)
        np.multiply(fac_t[2], dh_t, out=dz4_t[2])
        dz_t.dot(Whh, out=dhnext)  # dhnext = Whh^T dz_t, what reaches h_{t-1}
    # dWxh = sum_t dz_t x_t^T, dWhh = sum_t dz_t h_{t-1}^T, dbh = sum_t dz_t
    recurrence_weight_gradients(dz, inputs, hs[:-1], dWxh, dWhh, dbh)
    np.clip(grads, -5, 5, out=grads)  # clip every gradient to [-5, 5]: mitigates exploding gradients
    h_last = np.concatenate((hs[T], cs[T]))[:, None]  # the carried state: h_T above c_T
    return loss, dWxh, dWhh, dWhy, dbh, dby, h_last


# ---------------------------------------------------------------------------
# One step, for sampling and the held-out loss
# ---------------------------------------------------------------------------

def step_weights(params):
    """What step reads, prepared once: row ix of "xz" is Wxh x + bh for the one-hot x of
    character ix, and "WhhT" is Whh^T, both with the i, f, o parts halved (see above)."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    H = Whh.shape[1]
    xz = Wxh.T + bh.T
    xz[:, :3 * H] *= 0.5
    Whh_s = Whh * 0.5
    Whh_s[3 * H:] = Whh[3 * H:]
    return {"xz": xz, "WhhT": Whh_s.T, "H": H}


def step(state, ix, w):
    """One character through the cell: state is h above c, of shape (2H,) or (B, 2H)."""
    H = w["H"]
    z = state[..., :H] @ w["WhhT"]
    z += w["xz"][ix]
    np.tanh(z, out=z)  # tanh(z_g), and tanh(z / 2) for i, f, o
    ifo = z[..., :3 * H]
    ifo *= 0.5
    ifo += 0.5  # i, f, o = sigmoid(z) = 0.5 + 0.5 * tanh(z / 2)
    i, f, o, g = (z[..., k * H:(k + 1) * H] for k in range(4))
    new = np.empty_like(state)  # h_t above c_t, written in place for speed:
    h, c = new[..., :H], new[..., H:]
    np.multiply(f, state[..., H:], out=c)
    c += i * g  # c_t = f * c_{t-1} + i * g
    np.tanh(c, out=h)
    h *= o  # h_t = o * tanh(c_t)
    return new


if __name__ == "__main__":  # this file holds the cell; min_char_rnn.py trains it
    from charrnn.cli import cell_file_main
    sys.exit(cell_file_main("lstm", sys.argv[1:]))

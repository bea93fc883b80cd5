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

The interface is the vanilla one (init_params, zero_state, lossFun, sample, advance),
plus heldout_loss, a batched evaluation over many independent streams. This module does
not import min_char_rnn: it reads on its own.
"""
import numpy as np

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")  # also the order of the gradients
NOISE_BLOCK = 256  # sample draws the Gumbel noise of at most this many steps at a time
HELDOUT_BLOCK = 64  # heldout_loss runs this many time steps, then their output layer


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


def sigmoid(x):
    """1 / (1 + exp(-x)), computed as 0.5 + 0.5 * tanh(x / 2), which never overflows."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


# lossFun and sample compute sigmoid(z) as 0.5 + 0.5 * tanh(z / 2), so that ONE tanh over
# all four blocks gives tanh(z_g) and, for i, f, o, tanh(z / 2): on vectors of a few hundred
# numbers the count of NumPy calls is what costs. Instead of halving z at every step they
# halve the i, f, o rows of Wxh, Whh and bh once; halving is exact in floating point, so
# this gives the same numbers as halving z. heldout_loss, on arrays a hundred times larger,
# computes 1 / (1 + exp(-z)) instead, which is faster there.


# ---------------------------------------------------------------------------
# Forward and backward pass
# ---------------------------------------------------------------------------

def lossFun(inputs, targets, hprev, params, grads=None):
    """Loss and gradients of one chunk, by backpropagation through time.

    inputs, targets: equal-length sequences of character indices.
    hprev: 2H x 1 state carried in from the previous chunk (h above c).
    grads: optional flat buffer, as long as all parameters together, that receives the
    five gradients in PARAM_NAMES order.
    Returns (loss, dWxh, dWhh, dWhy, dbh, dby, h_last), gradients clipped to [-5, 5];
    h_last is the 2H x 1 state (h_T above c_T) for the next chunk.

    Only the recurrence runs step by step; everything else handles all time steps
    at once. Arrays indexed [t] are time-major: row t is time step t.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    inputs = np.asarray(inputs, dtype=np.intp)
    targets = np.asarray(targets, dtype=np.intp)
    T, H, V = len(inputs), Whh.shape[1], Why.shape[0]
    steps = np.arange(T)

    # forward pass
    Whh_s = Whh * 0.5
    Whh_s[3 * H:] = Whh[3 * H:]  # Whh with the i, f, o rows halved (see sigmoid)
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
        grads = np.empty(Wxh.size + Whh.size + Why.size + bh.size + by.size)
    dWxh, dWhh, dWhy, dbh, dby = split_like(grads, (Wxh, Whh, Why, bh, by))
    np.matmul(dy.T, h, out=dWhy)  # sum_t dy_t h_t^T
    dy.sum(axis=0, out=dby[:, 0])  # sum_t dy_t
    dhs = dy @ Why  # row t: Why^T dy_t, the gradient reaching h_t from the output
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
    onehot = np.zeros((T, V))
    onehot[steps, inputs] = 1  # row t: x_t^T
    np.matmul(dz.T, onehot, out=dWxh)  # sum_t dz_t x_t^T
    np.matmul(dz.T, hs[:-1], out=dWhh)  # sum_t dz_t h_{t-1}^T
    dz.sum(axis=0, out=dbh[:, 0])  # sum_t dz_t
    np.clip(grads, -5, 5, out=grads)  # clip every gradient to [-5, 5]: mitigates exploding gradients
    h_last = np.concatenate((hs[T], cs[T]))[:, None]  # the carried state: h_T above c_T
    return loss, dWxh, dWhh, dWhy, dbh, dby, h_last


def split_like(flat, arrays):
    """Views into flat, one per array, each with that array's shape."""
    views, start = [], 0
    for a in arrays:
        views.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return views


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------

def sample_blocks(h, seed_ix, n, params, strategy="multinomial", temperature=1.0, rng=None):
    """Generate n character indices from the state h (2H x 1: h above c), starting after seed_ix.
    Yielded in lists of at most NOISE_BLOCK, so memory stays bounded for any n.

    strategy "multinomial": draw each index from softmax(y / temperature) with rng.
    strategy "greedy": take the most likely index (argmax of y); rng is never used.
    The seed character itself is not part of the output; the caller's h is left alone.
    """
    if strategy not in ("multinomial", "greedy"):
        raise ValueError(f"unknown sampling strategy {strategy!r}: use 'multinomial' or 'greedy'")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    H, V = Whh.shape[1], len(by)
    xz = Wxh.T + bh.T  # row ix: Wxh x + bh for the one-hot x of character ix
    xz[:, :3 * H] *= 0.5  # i, f, o halved (see sigmoid)
    Whh_s = Whh * 0.5
    Whh_s[3 * H:] = Whh[3 * H:]  # Whh with the i, f, o rows halved
    if strategy == "multinomial" and rng is None:
        rng = np.random.default_rng()
    state = np.array(h, dtype=float).ravel()  # a copy: the caller's h is left alone
    h, c = state[:H], state[H:]  # views: updating them updates state
    z, ig, tc, y = np.empty(4 * H), np.empty(H), np.empty(H), np.empty(V)
    ifo = z[:3 * H]
    i, f, o, g = z.reshape(4, H)
    ix = seed_ix
    for start in range(0, n, NOISE_BLOCK):
        rows = min(NOISE_BLOCK, n - start)
        block = []
        if strategy == "greedy":
            offsets = np.broadcast_to(by.T, (rows, V))  # no noise: the plain argmax of y
        else:
            # Multinomial, by the Gumbel-max trick: with g_i = -log(-log(u_i)), u_i uniform,
            # argmax_i(y_i / T + g_i) is distributed as softmax(y / T), the same draw as the
            # classic rng.choice(V, p=softmax(y / T)). Scaling by T > 0 keeps the argmax, so
            # step i adds T * g to y. The noise comes in blocks of NOISE_BLOCK steps, so
            # memory stays bounded for any n; the rows are the same numbers one call for
            # all n steps would draw.
            offsets = -np.log(-np.log(rng.random((rows, V)))) * temperature
            offsets += by.T  # row i: by plus the noise of step i
        for offset in offsets:
            # z = Wxh x + Whh h + bh (i, f, o halved); i, f, o = sigmoid, g = tanh, in place
            Whh_s.dot(h, out=z)
            z += xz[ix]
            np.tanh(z, out=z)
            ifo *= 0.5
            ifo += 0.5
            # c = f * c + i * g; h = o * tanh(c), in place
            c *= f
            np.multiply(i, g, out=ig)
            c += ig
            np.tanh(c, out=tc)
            np.multiply(o, tc, out=h)
            # y = Why h + by (+ noise); the next character is its argmax
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
    """Feed the characters ixs through the network from state h (2H x 1); return the new state."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    H = Whh.shape[1]
    h, c = h[:H], h[H:]
    for ix in ixs:
        z = Wxh[:, ix:ix + 1] + Whh @ h + bh
        i, f, o, g = sigmoid(z[:H]), sigmoid(z[H:2 * H]), sigmoid(z[2 * H:3 * H]), np.tanh(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.concatenate((h, c))


# ---------------------------------------------------------------------------
# Held-out evaluation
# ---------------------------------------------------------------------------

def heldout_loss(inputs, targets, params):
    """Sum of -ln p(target) over B independent streams, for evaluation on held-out text.

    inputs, targets: integer arrays of shape (T, B), time-major: column b is stream b.
    Every stream starts from the zero state and carries its state along time. Targets of
    -1 mark padding: those positions are left out of the sum (their inputs must still be
    valid indices). No gradients.

    All B streams advance together, one (B, H) x (H, 4H) product per time step (done as
    four (B, H) x (H, H) products, one per gate block). Time goes in blocks of
    HELDOUT_BLOCK steps: the recurrence for the block, then the output layer and
    log-softmax for all its positions at once, so memory is bounded whatever T.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    inputs, targets = check_streams(inputs, targets, Why.shape[0])
    T, B = inputs.shape
    V, H = Why.shape
    # Gate-major layout: at each step z[k] is gate block k (i, f, o, g) of every stream, a
    # contiguous B x H array, so the elementwise gate math runs on contiguous memory.
    # The i, f, o blocks are negated once here, so that sigmoid(z) = 1 / (1 + exp(-z))
    # is an exp of the stored value (negation is exact).
    sign = np.array([-1.0, -1.0, -1.0, 1.0])[:, None, None]
    Wk = np.ascontiguousarray(Whh.reshape(4, H, H).transpose(0, 2, 1)) * sign  # Wk[k]: Whh_k^T
    # table[k, ix]: block k of Wxh x + bh for the one-hot x of character ix
    table = np.ascontiguousarray((Wxh.T + bh.T).reshape(V, 4, H).transpose(1, 0, 2)) * sign
    block = max(1, min(HELDOUT_BLOCK, T))  # (T = 0 is an empty sum)
    hs = np.zeros((block + 1, B, H))  # hs[t + 1, b]: stream b's h at step t of the block;
    # hs[0] carries the last h of the previous block (zero at the start)
    c = np.zeros((B, H))  # row b: stream b's cell, carried along
    z, zh = np.empty((4, B, H)), np.empty((4, B, H))
    ig, tc = np.empty((B, H)), np.empty((B, H))
    ifo = z[:3]
    i, f, o, g = z
    total = 0.0
    # exp(-z) overflows to inf for z < -709, and 1 / (1 + inf) = 0 is the right sigmoid there
    with np.errstate(over="ignore"):
        for start in range(0, T, block):
            stop = min(start + block, T)
            for ix_t, h_prev, h_t in zip(inputs[start:stop], hs[:-1], hs[1:]):
                # z = Wxh x_t + Whh h_{t-1} + bh for every stream (i, f, o negated), in place:
                # the input part is a row lookup (indices checked, so no bounds check)
                np.take(table, ix_t, axis=1, out=z, mode="clip")
                np.matmul(h_prev, Wk, out=zh)
                z += zh
                # i, f, o = sigmoid(z_ifo) = 1 / (1 + exp(-z_ifo)); g = tanh(z_g), in place
                np.exp(ifo, out=ifo)
                ifo += 1
                np.reciprocal(ifo, out=ifo)
                np.tanh(g, out=g)
                # c_t = f * c_{t-1} + i * g, in place
                c *= f
                np.multiply(i, g, out=ig)
                c += ig
                # h_t = o * tanh(c_t), in place
                np.tanh(c, out=tc)
                np.multiply(o, tc, out=h_t)
            n = stop - start
            total += block_nll(hs[1:n + 1], targets[start:stop], Why, by)
            hs[0] = hs[n]  # carried into the next block
    return total


def check_streams(inputs, targets, vocab_size):
    """inputs and targets as index arrays of one shape (T, B); inputs all valid indices."""
    inputs = np.asarray(inputs, dtype=np.intp)
    targets = np.asarray(targets, dtype=np.intp)
    if inputs.ndim != 2 or inputs.shape != targets.shape:
        raise ValueError(f"inputs and targets must both have shape (T, B), got "
                         f"{inputs.shape} and {targets.shape}")
    if inputs.size and not (inputs.min() >= 0 and inputs.max() < vocab_size):
        raise ValueError(f"inputs must be character indices in 0..{vocab_size - 1}, "
                         f"padding included")
    if targets.size and targets.max() >= vocab_size:
        raise ValueError(f"targets must be character indices below {vocab_size}, or -1")
    return inputs, targets


def block_nll(hb, targets, Why, by):
    """Sum of -ln p(target) over one block's positions whose target is not -1.

    hb: (n, B, H), the h of each step and stream; targets: (n, B).
    """
    hb = hb.reshape(-1, hb.shape[-1])  # one row per position (step, stream)
    targets = targets.ravel()
    keep = targets >= 0
    if not keep.all():  # leave padding out of the output layer
        hb, targets = hb[keep], targets[keep]
    # Positions are columns here, so every reduction below runs over the V rows of long,
    # contiguous columns, much faster than over short rows.
    ys = Why @ hb.T
    ys += by  # column j: y = Why h + by for position j
    ys -= ys.max(axis=0)  # a shift softmax ignores, so exp never overflows
    # -ln p(target) = ln sum_v exp(y_v) - y_target: log-softmax, never log(0)
    picked = ys[targets, np.arange(len(targets))].sum()
    np.exp(ys, out=ys)
    return float(np.log(ys.sum(axis=0)).sum() - picked)

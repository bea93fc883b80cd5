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


def sigmoid(x):
    """1 / (1 + exp(-x)), computed as 0.5 + 0.5 * tanh(x / 2), which never overflows."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


# lossFun and sample compute sigmoid(z) as 0.5 + 0.5 * tanh(z / 2): on vectors of a few
# hundred numbers the count of NumPy calls is what costs, and tanh is one call where
# 1 / (1 + exp(-z)) is three. Instead of halving z at every step they halve the r and u rows
# of Wxh, Whh and bh once; halving is exact in floating point, so this gives the same
# numbers as halving z. heldout_loss, on arrays a hundred times larger, computes
# 1 / (1 + exp(-z)) instead, which is faster there.


# ---------------------------------------------------------------------------
# Forward and backward pass
# ---------------------------------------------------------------------------

def lossFun(inputs, targets, hprev, params, grads=None):
    """Loss and gradients of one chunk, by backpropagation through time.

    inputs, targets: equal-length sequences of character indices.
    hprev: H x 1 hidden state carried in from the previous chunk.
    grads: optional flat buffer, as long as all parameters together, that receives the
    five gradients in PARAM_NAMES order.
    Returns (loss, dWxh, dWhh, dWhy, dbh, dby, h_last); gradients clipped to [-5, 5].

    Only the recurrence runs step by step; everything else handles all time steps
    at once. Arrays indexed [t] are time-major: row t is time step t.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    inputs = np.asarray(inputs, dtype=np.intp)
    targets = np.asarray(targets, dtype=np.intp)
    T, H, V = len(inputs), Whh.shape[1], Why.shape[0]
    steps = np.arange(T)

    # forward pass
    # Wxh @ x_t for a one-hot x_t is column inputs[t] of Wxh: no one-hot product needed.
    xz = Wxh.T[inputs]
    xz += bh.T  # row t: Wxh x_t + bh, blocks r, u, n
    xz[:, :2 * H] *= 0.5  # r and u halved (see sigmoid)
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
    onehot = np.zeros((T, V))
    onehot[steps, inputs] = 1  # row t: x_t^T
    np.matmul(dz.T, onehot, out=dWxh)  # sum_t dz_t x_t^T
    np.matmul(dz[:, :2 * H].T, h_prev, out=dWhh[:2 * H])  # blocks r, u: sum_t dz_t h_{t-1}^T
    np.matmul(dz[:, 2 * H:].T, rhs, out=dWhh[2 * H:])  # block n: sum_t dz_n (r_t * h_{t-1})^T
    dz.sum(axis=0, out=dbh[:, 0])  # sum_t dz_t
    np.clip(grads, -5, 5, out=grads)  # clip every gradient to [-5, 5]: mitigates exploding gradients
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[T][:, None].copy()


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
    """Generate n character indices from hidden state h (H x 1), starting after seed_ix.
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
    xz[:, :2 * H] *= 0.5  # r and u halved (see sigmoid)
    Whh_ru, Whh_n = Whh[:2 * H] * 0.5, Whh[2 * H:]
    if strategy == "multinomial" and rng is None:
        rng = np.random.default_rng()
    h = np.array(h, dtype=float).ravel()  # a copy: the caller's h is left alone
    a, rh, y = np.empty(3 * H), np.empty(H), np.empty(V)
    ru, n_ = a[:2 * H], a[2 * H:]
    r, u, _ = a.reshape(3, H)
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
            xz_ix = xz[ix]
            # r, u = sigmoid(Wxh x + Whh h + bh) in blocks r, u, as 0.5 + 0.5 tanh(halved), in place
            Whh_ru.dot(h, out=ru)
            ru += xz_ix[:2 * H]
            np.tanh(ru, out=ru)
            ru *= 0.5
            ru += 0.5
            # n = tanh(Wxh_n x + Whh_n (r * h) + bh_n), in place
            np.multiply(r, h, out=rh)
            Whh_n.dot(rh, out=n_)
            n_ += xz_ix[2 * H:]
            np.tanh(n_, out=n_)
            # h = (1 - u) * n + u * h, written as n + u * (h - n), in place
            h -= n_
            h *= u
            h += n_
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
    """Feed the characters ixs through the network from hidden state h; return the new h."""
    Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
    H = Whh.shape[1]
    for ix in ixs:
        xz = Wxh[:, ix:ix + 1] + bh
        r = sigmoid(xz[:H] + Whh[:H] @ h)
        u = sigmoid(xz[H:2 * H] + Whh[H:2 * H] @ h)
        n = np.tanh(xz[2 * H:] + Whh[2 * H:] @ (r * h))
        h = (1 - u) * n + u * h
    return h


# ---------------------------------------------------------------------------
# Held-out evaluation
# ---------------------------------------------------------------------------

def heldout_loss(inputs, targets, params):
    """Sum of -ln p(target) over B independent streams, for evaluation on held-out text.

    inputs, targets: integer arrays of shape (T, B), time-major: column b is stream b.
    Every stream starts from the zero state and carries its state along time. Targets of
    -1 mark padding: those positions are left out of the sum (their inputs must still be
    valid indices). No gradients.

    All B streams advance together: per time step one (B, H) x (H, 2H) product for r and
    u (done as two (B, H) x (H, H) products), then one (B, H) x (H, H) for n, which needs
    r first. Time goes in blocks of HELDOUT_BLOCK steps: the recurrence for the block,
    then the output layer and log-softmax for all its positions at once, so memory is
    bounded whatever T.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    inputs, targets = check_streams(inputs, targets, Why.shape[0])
    T, B = inputs.shape
    V, H = Why.shape
    # Gate-major layout: at each step z[k] is block k (r, u, n) of every stream, a
    # contiguous B x H array, so the elementwise gate math runs on contiguous memory.
    # The r and u blocks are negated once here, so that sigmoid(z) = 1 / (1 + exp(-z))
    # is an exp of the stored value (negation is exact).
    sign = np.array([-1.0, -1.0, 1.0])[:, None, None]
    Wk = np.ascontiguousarray(Whh.reshape(3, H, H).transpose(0, 2, 1)) * sign  # Wk[k]: Whh_k^T
    W_ru, W_n = Wk[:2], Wk[2]
    # table[k, ix]: block k of Wxh x + bh for the one-hot x of character ix
    table = np.ascontiguousarray((Wxh.T + bh.T).reshape(V, 3, H).transpose(1, 0, 2)) * sign
    block = max(1, min(HELDOUT_BLOCK, T))  # (T = 0 is an empty sum)
    hs = np.zeros((block + 1, B, H))  # hs[t + 1, b]: stream b's h at step t of the block;
    # hs[0] carries the last h of the previous block (zero at the start)
    z, zh = np.empty((3, B, H)), np.empty((3, B, H))
    rh = np.empty((B, H))
    ru, zh_ru = z[:2], zh[:2]
    r, u, n = z
    total = 0.0
    # exp(-z) overflows to inf for z < -709, and 1 / (1 + inf) = 0 is the right sigmoid there
    with np.errstate(over="ignore"):
        for start in range(0, T, block):
            stop = min(start + block, T)
            for ix_t, h_prev, h_t in zip(inputs[start:stop], hs[:-1], hs[1:]):
                # z = Wxh x_t + bh for every stream, a row lookup (indices checked, so no
                # bounds check); r and u negated
                np.take(table, ix_t, axis=1, out=z, mode="clip")
                # r, u = sigmoid(Wxh x + Whh h_{t-1} + bh) = 1 / (1 + exp(-...)) in blocks r, u, in place
                np.matmul(h_prev, W_ru, out=zh_ru)
                ru += zh_ru
                np.exp(ru, out=ru)
                ru += 1
                np.reciprocal(ru, out=ru)
                # n = tanh(Wxh_n x_t + Whh_n (r * h_{t-1}) + bh_n), in place
                np.multiply(r, h_prev, out=rh)
                np.matmul(rh, W_n, out=zh[2])
                n += zh[2]
                np.tanh(n, out=n)
                # h_t = (1 - u) * n + u * h_{t-1}, written as n + u * (h_{t-1} - n), in place
                np.subtract(h_prev, n, out=h_t)
                h_t *= u
                h_t += n
            n_steps = stop - start
            total += block_nll(hs[1:n_steps + 1], targets[start:stop], Why, by)
            hs[0] = hs[n_steps]  # carried into the next block
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

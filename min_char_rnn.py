"""Minimal character-level vanilla RNN, trained with truncated BPTT and Adagrad.

A faithful NumPy descendant of the classic ~100-line min-char-rnn script:

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)      (x_t: one-hot character)
    y_t = Why h_t + by
    p_t = softmax(y_t)
    loss = sum_t -log p_t[target_t]             (cross-entropy, summed over the chunk)

Read it top-down: init_params, lossFun (forward and backward pass
over one chunk of seq_length characters), sample (multinomial or greedy decoding),
heldout_loss, adagrad_update, and the training loop, train. The gated cells,
min_char_lstm.py and min_char_gru.py, give their own init_params, lossFun and step; the
sampler and the held-out loss here serve all three. The text (as indices into its sorted
vocabulary, charrnn/text.py), checkpoints, logs, the run folder and the command line are the
harness in charrnn/.

    python min_char_rnn.py input.txt                      # train, seed 1
    python min_char_rnn.py input.txt --seeds 1 2 3        # three runs in parallel
    python min_char_rnn.py input.txt --cell lstm --val-frac 0.1   # an LSTM, 10% held out
    python min_char_rnn.py --sample-from runs/seed-1/checkpoint.npz --strategy greedy
"""
import math
import sys


if __name__ == "__main__":
    from charrnn.system import quiet_start
    quiet_start()  # one BLAS thread, set before numpy loads

import numpy as np


PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")  # also the order of the gradients


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

def softmax_loss(h, targets, Why, by, dWhy=None, dby=None):
    """The output layer and the loss, for every row h_t of h at once (every cell uses it).

    Forward: y_t = Why h_t + by, p_t = softmax(y_t), and loss = sum_t -log p_t[target_t],
    the cross-entropy of the next character (the negative log-likelihood of the text).
    Backward, where dWhy and dby are given (arrays to fill): with dy_t = p_t - onehot(target_t),
    dWhy = sum_t dy_t h_t^T and dby = sum_t dy_t. Returns (loss, dh) with dh_t = Why^T dy_t,
    the gradient reaching h_t from the output; dh is None without dWhy.
    """
    steps = np.arange(len(targets))
    ys = h @ Why.T
    ys += by.T  # row t: y_t = Why h_t + by
    ys -= ys.max(axis=1, keepdims=True)  # a shift softmax ignores, so exp never overflows
    ps = np.exp(ys)
    sums = ps.sum(axis=1, keepdims=True)
    # sum_t -log p_t[target_t], as log-softmax so a tiny p never becomes log(0)
    loss = float(np.log(sums).sum() - ys[steps, targets].sum())
    if dWhy is None:
        return loss, None
    ps /= sums  # row t: p_t = softmax(y_t)
    dy = ps  # dloss/dy_t = p_t - onehot(target_t); ps is not needed any more
    dy[steps, targets] -= 1
    np.matmul(dy.T, h, out=dWhy)  # sum_t dy_t h_t^T
    dy.sum(axis=0, out=dby[:, 0])  # sum_t dy_t
    return loss, dy @ Why  # row t: Why^T dy_t


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
    T, H = len(inputs), Whh.shape[0]

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
    grads, (dWxh, dWhh, dWhy, dbh, dby) = gradient_views(grads, params)
    # y_t = Why h_t + by, p_t = softmax(y_t), the loss; and backward: dWhy, dby, and
    # dhraw_t = Why^T dy_t, the gradient reaching h_t from the output
    loss, dhraw = softmax_loss(h, targets, Why, by, dWhy, dby)

    # backward pass
    dtanh = h * h
    np.subtract(1, dtanh, out=dtanh)  # tanh'(a) = 1 - tanh(a)^2
    dhnext = np.zeros(H)  # zero after the chunk's last step: truncated BPTT, no gradient crosses chunks
    for dhraw_t, dtanh_t in zip(dhraw[::-1], dtanh[::-1]):  # t = T-1 down to 0
        # dhraw_t = (1 - h_t^2) * (Why^T dy_t + dhnext); dhnext = Whh^T dhraw_t, in place
        dhraw_t += dhnext
        dhraw_t *= dtanh_t
        dhraw_t.dot(Whh, out=dhnext)
    # dWxh = sum_t dhraw_t x_t^T, dWhh = sum_t dhraw_t h_{t-1}^T, dbh = sum_t dhraw_t
    recurrence_weight_gradients(dhraw, inputs, hs[:-1], dWxh, dWhh, dbh)
    np.clip(grads, -5, 5, out=grads)  # clip every gradient to [-5, 5]: mitigates exploding gradients
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[T][:, None].copy()


# ---------------------------------------------------------------------------
# One step at a time: sampling and the held-out loss, for every cell
# ---------------------------------------------------------------------------
# A cell's step(state, ix, weights) advances its state by the character ix; the state holds
# h in its first H entries. State and ix may be one stream (state of shape (S,)) or B
# streams side by side (state (B, S), ix (B,)). step_weights(params) prepares, once, what
# step reads: here the input table and Whh^T.

def step_weights(params):
    """Row ix of "xh" is Wxh x + bh for the one-hot x of character ix; "WhhT" is Whh^T."""
    return {"xh": params["Wxh"].T + params["bh"].T, "WhhT": params["Whh"].T}


def step(state, ix, w):
    """h = tanh(Wxh x + Whh h + bh): the recurrence of lossFun, for one character."""
    return np.tanh(state @ w["WhhT"] + w["xh"][ix])


NOISE_BLOCK = 256  # noise is drawn for this many steps at a time: memory stays bounded for any n


def sample_blocks(h, seed_ix, n, params, strategy="multinomial", temperature=1.0, rng=None, cell=None):
    """Generate n character indices from state h, starting after seed_ix, with the cell's
    module cell (None: the vanilla RNN). Yielded in lists of at most NOISE_BLOCK.

    strategy "multinomial": draw each index from softmax(y / temperature) with rng.
    strategy "greedy": take the most likely index (argmax of y); rng is never used.
    The seed character itself is not part of the output; the caller's h is left alone.
    """
    if strategy not in ("multinomial", "greedy"):
        raise ValueError(f"unknown sampling strategy {strategy!r}: use 'multinomial' or 'greedy'")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    cell = cell or sys.modules[__name__]
    w, Why, by = cell.step_weights(params), params["Why"], params["by"]
    H, V = Why.shape[1], len(by)
    if strategy == "multinomial" and rng is None:
        rng = np.random.default_rng()
    state, ix = np.array(h, dtype=float).ravel(), seed_ix  # a copy: the caller's h is left alone
    for start in range(0, n, NOISE_BLOCK):
        steps = min(NOISE_BLOCK, n - start)
        if strategy == "greedy":
            offsets = np.broadcast_to(by.T, (steps, V))  # no noise: the plain argmax of y
        else:
            # Multinomial, by the Gumbel-max trick: with g_i = -log(-log(u_i)), u_i uniform,
            # argmax_i(y_i / T + g_i) is distributed as softmax(y / T), the same draw as the
            # classic rng.choice(V, p=softmax(y / T)). Scaling by T > 0 keeps the argmax, so
            # step i adds T * g to y. One call draws the noise of a block of steps; the
            # generator gives the same numbers in blocks as in one call.
            offsets = -np.log(-np.log(rng.random((steps, V)))) * temperature + by.T
        block = []
        for offset in offsets:  # row i: by plus the noise of step i
            state = cell.step(state, ix, w)
            y = Why.dot(state[:H])  # y = Why h + by (+ noise); the next character is its argmax
            y += offset
            ix = int(y.argmax())
            block.append(ix)
        yield block


def sample(h, seed_ix, n, params, strategy="multinomial", temperature=1.0, rng=None, cell=None):
    """The n indices of sample_blocks as one list (memory grows with n: callers that let
    the user choose n use sample_blocks)."""
    return [ix for block in sample_blocks(h, seed_ix, n, params, strategy, temperature, rng, cell)
            for ix in block]


def advance(h, ixs, params, cell=None):
    """Feed the characters ixs through the network from state h (S x 1); return the new state."""
    cell = cell or sys.modules[__name__]
    state, w = np.array(h, dtype=float).ravel(), cell.step_weights(params)
    for ix in ixs:
        state = cell.step(state, ix, w)
    return state[:, None]


HELDOUT_BLOCK = 64  # heldout_loss runs this many time steps, then their output layer


def heldout_loss(blocks, params, cell=None, state=None):
    """Sum of -log p_t[target_t] over B independent streams of text, without gradients.

    blocks: the streams' text in time order, as (inputs, targets) pairs of (t, B) index arrays,
    time-major: column b is stream b, which starts from state (S x 1; None: the zero state) and
    carries it from block to block (charrnn.text.heldout_blocks makes them, a block at a time,
    so memory stays bounded however long the streams are). A target of -1 is not counted: a
    warm-up read before a stream's scored part, or padding after it. The streams run side by
    side, one step of the cell (cell: its module; None, the vanilla RNN) for all of them at
    once; a block's output layer runs every HELDOUT_BLOCK steps.
    """
    cell = cell or sys.modules[__name__]
    Why, by = params["Why"], params["by"]
    V, H = Why.shape
    w, total, states = cell.step_weights(params), 0.0, None
    for inputs, targets in blocks:
        inputs, targets = checked_streams(inputs, targets, V, states)
        if states is None:  # row b: stream b's state
            start_state = cell.zero_state(H) if state is None else state
            states = np.repeat(start_state.reshape(1, -1), inputs.shape[1], axis=0)
        for start in range(0, len(inputs), HELDOUT_BLOCK):
            x, tg = inputs[start:start + HELDOUT_BLOCK], targets[start:start + HELDOUT_BLOCK]
            hs = np.empty((len(x), x.shape[1], H))  # hs[t, b]: h of stream b after step t of the block
            for ix_t, h_t in zip(x, hs):
                states = cell.step(states, ix_t, w)
                h_t[:] = states[:, :H]
            keep = tg.ravel() >= 0  # positions (step, stream) with a target
            total += softmax_loss(hs.reshape(-1, H)[keep], tg.ravel()[keep], Why, by)[0]
    return total


def checked_streams(inputs, targets, V, states):
    """inputs and targets of one block of heldout_loss as index arrays, or a ValueError."""
    inputs, targets = np.asarray(inputs, dtype=np.intp), np.asarray(targets, dtype=np.intp)
    if inputs.ndim != 2 or inputs.shape != targets.shape:
        raise ValueError(f"inputs and targets must both have shape (T, B), got {inputs.shape} "
                         f"and {targets.shape}")
    if states is not None and inputs.shape[1] != len(states):
        raise ValueError(f"every block must have the {len(states)} streams of the first")
    if inputs.size and not (inputs.min() >= 0 and inputs.max() < V and targets.max() < V):
        raise ValueError(f"inputs must be character indices in 0..{V - 1}, targets too or -1")
    return inputs, targets


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
    update = learning_rate * dparam
    update /= scratch
    param -= update


# ---------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------

def train(run):
    """The classic loop: sample now and then, lossFun, log, Adagrad step, move the pointer.

    run (charrnn.run.Run) is the loop's one interface to the world: the text as indices,
    the options, the state to start from (run.state: a new run's, or a checkpoint's), and the
    logs, the held-out evaluation, the checkpoints and the stop signals. The loop keeps its
    state in that one dict and hands it back whole. Returns the iteration reached.
    """
    hp, cell, data, state = run.hparams, run.cell, run.data, run.state
    seq_length, learning_rate = hp["seq_length"], hp["learning_rate"]
    # Parameters, Adagrad memories and gradients each live in one flat vector, so that one
    # Adagrad step covers all five parameters. The state's dicts become views into them: what
    # run evaluates and checkpoints is always the current weights and memory.
    param_vec, state["params"] = flat_views(state["params"])
    mem_vec, state["mem"] = flat_views(state["mem"])
    grad_vec, params = np.empty_like(param_vec), state["params"]
    hprev, p, n, smooth_loss = state["hprev"], state["p"], state["n"], state["smooth_loss"]
    loss, grads = None, None
    # overflow shows up as a non-finite loss, reported in one line instead of warnings
    with run, np.errstate(over="ignore", invalid="ignore"):
        while run.goes_on(n):
            # reset the RNN's memory (the hidden state) and the data pointer at the start
            # and when the data runs out
            if n == 0 or p + seq_length + 1 >= len(data):
                hprev = np.zeros_like(hprev)
                p = 0
            inputs = data[p:p + seq_length]
            targets = data[p + 1:p + seq_length + 1]

            # sample from the model now and then
            if hp["sample_every"] and n % hp["sample_every"] == 0:
                ixs = sample(hprev, inputs[0], hp["sample_length"], params, rng=state["rng"], cell=cell)
                run.log_sample(n, ixs)

            # forward seq_length characters through the net and fetch the gradient
            # (the last hidden state comes back as hprev: carried into the next chunk, while the
            # gradients stop at the chunk's first step)
            loss, *grads, hprev = cell.lossFun(inputs, targets, hprev, params, grad_vec)
            if not math.isfinite(loss):
                run.diverged(n, loss)
            smooth_loss = smooth_loss * 0.999 + loss * 0.001
            if n % hp["log_every"] == 0:
                run.log_loss(n, loss, smooth_loss, grads)

            # perform parameter update with Adagrad
            adagrad_update(param_vec, grad_vec, mem_vec, learning_rate)  # dWxh, ..., dby together

            p += seq_length  # move data pointer
            n += 1  # iteration counter
            state.update(hprev=hprev, p=p, n=n, smooth_loss=smooth_loss)  # the loop's state, whole
            if run.val is not None and n % hp["eval_every"] == 0:
                run.evaluate(state)  # held-out bits per character, to val.csv
            if n % run.checkpoint_every == 0:
                run.checkpoint(state)
        run.finish(state, loss, grads)
    return n


# ---------------------------------------------------------------------------
# Bookkeeping of lossFun and the training loop: gradients and parameters in flat buffers
# ---------------------------------------------------------------------------

def gradient_views(grads, params):
    """(grads, views into it shaped like the parameters, in PARAM_NAMES order): the five
    gradients share one flat buffer, so that one np.clip covers them all. grads None: a new one."""
    if grads is None:
        grads = np.empty(sum(params[k].size for k in PARAM_NAMES))
    return grads, split_like(grads, [params[k] for k in PARAM_NAMES])


def recurrence_weight_gradients(dz, inputs, h_prev, dWxh, dWhh, dbh):
    """The gradients of the weights into the cell, in place, from dz (row t: the gradient at
    the pre-activation Wxh x_t + Whh h_{t-1} + bh) and h_prev (row t: h_{t-1})."""
    onehot = np.zeros((len(inputs), dWxh.shape[1]))
    onehot[np.arange(len(inputs)), inputs] = 1  # row t: x_t^T
    np.matmul(dz.T, onehot, out=dWxh)  # sum_t dz_t x_t^T
    np.matmul(dz.T, h_prev, out=dWhh)  # sum_t dz_t h_{t-1}^T
    dz.sum(axis=0, out=dbh[:, 0])  # sum_t dz_t


def split_like(flat, arrays):
    """Views into flat, one per array, each with that array's shape."""
    views, start = [], 0
    for a in arrays:
        views.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return views


def flat_views(arrays, names=PARAM_NAMES):
    """Copy a dict of arrays (in the order of names) into one flat vector.

    Returns the vector and a dict of views into it with the original shapes: writing to
    either changes both. The training loop keeps params, mem and the gradients this way,
    so one Adagrad step covers all parameters.
    """
    flat = np.concatenate([arrays[k].ravel() for k in names])
    return flat, dict(zip(names, split_like(flat, (arrays[k] for k in names))))


if __name__ == "__main__":
    sys.modules["min_char_rnn"] = sys.modules[__name__]  # the harness imports this file by name: one copy
    from charrnn.cli import main
    sys.exit(main())

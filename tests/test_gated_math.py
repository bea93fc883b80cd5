"""The gated cells, min_char_lstm.py and min_char_gru.py, against plain per-step references,
numerical gradients and known distributions: the checks test_math.py makes of the vanilla RNN."""
from types import SimpleNamespace

import numpy as np
import pytest

import min_char_gru
import min_char_lstm
import reference_gru
import reference_lstm

# blocks: gate blocks of H rows in Wxh, Whh and bh; state: rows of the carried state, in H
CELLS = {"lstm": SimpleNamespace(m=min_char_lstm, ref=reference_lstm, blocks=4, state=2),
         "gru": SimpleNamespace(m=min_char_gru, ref=reference_gru, blocks=3, state=1)}
NAMES = ("loss", "dWxh", "dWhh", "dWhy", "dbh", "dby", "h_last")

TEXT = "the quick brown fox jumps over the lazy dog.\nshe sells sea shells by the sea shore.\n" * 20


@pytest.fixture(params=list(CELLS))
def cell(request):
    return CELLS[request.param]


def random_state(cell, H, rng):
    """A carried state with every part non-zero: h in (-1, 1), and for the LSTM a cell c."""
    state = np.tanh(rng.standard_normal((cell.state * H, 1)))
    state[H:] *= 3  # the LSTM's c is not bounded by 1
    return state


def make_case(cell, V=11, H=7, T=9, scale=0.01, seed=0):
    rng = np.random.default_rng(seed)
    params = cell.m.init_params(V, H, rng)
    for k in params:  # biases too, so every term of the math is exercised
        params[k] = rng.standard_normal(params[k].shape) * scale
    inputs = rng.integers(0, V, T)
    targets = rng.integers(0, V, T)
    return inputs, targets, random_state(cell, H, rng), params


def assert_matches_reference(cell, inputs, targets, hprev, params):
    got = cell.m.lossFun(inputs, targets, hprev, params)
    want = cell.ref.lossFun_ref(list(inputs), list(targets), hprev, params)
    assert len(got) == 7
    for g, w, name in zip(got, want, NAMES):
        assert np.shape(g) == np.shape(w), name
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13, err_msg=name)
    return got


# ---------------------------------------------------------------------------
# Parameters and state
# ---------------------------------------------------------------------------

def test_init_params_shapes_draw_order_and_biases(cell):
    V, H, k = 65, 100, cell.blocks
    params = cell.m.init_params(V, H, np.random.default_rng(3))
    assert cell.m.PARAM_NAMES == ("Wxh", "Whh", "Why", "bh", "by")
    assert {n: v.shape for n, v in params.items()} == {
        "Wxh": (k * H, V), "Whh": (k * H, H), "Why": (V, H), "bh": (k * H, 1), "by": (V, 1)}
    assert all(v.dtype == np.float64 for v in params.values())
    rng = np.random.default_rng(3)  # the same draws, in the same order as the vanilla
    np.testing.assert_array_equal(params["Wxh"], rng.standard_normal((k * H, V)) * 0.01)
    np.testing.assert_array_equal(params["Whh"], rng.standard_normal((k * H, H)) * 0.01)
    np.testing.assert_array_equal(params["Why"], rng.standard_normal((V, H)) * 0.01)
    assert abs(params["Whh"].std() - 0.01) < 0.0005
    assert not params["by"].any()
    want_bh = np.zeros((k * H, 1))
    if cell.m is min_char_lstm:
        want_bh[H:2 * H] = 1  # the forget gate's block starts at 1
    np.testing.assert_array_equal(params["bh"], want_bh)
    ref = cell.ref.init_params_ref(V, H, np.random.default_rng(3))
    for n in params:
        np.testing.assert_array_equal(params[n], ref[n], err_msg=n)


def test_zero_state(cell):
    for H in (1, 7):
        state = cell.m.zero_state(H)
        assert state.shape == (cell.state * H, 1) and state.dtype == np.float64
        assert not state.any()
        np.testing.assert_array_equal(state, cell.ref.zero_state_ref(H))


# ---------------------------------------------------------------------------
# lossFun
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("V,H,T,seed", [(11, 7, 9, 0), (5, 3, 1, 1), (65, 100, 25, 2), (30, 20, 40, 3)])
def test_lossFun_matches_step_by_step_reference(cell, V, H, T, seed):
    assert_matches_reference(cell, *make_case(cell, V, H, T, scale=0.3, seed=seed))


def test_lossFun_matches_reference_when_clipping_bites(cell):
    # Many steps over a small vocabulary with saturated gates: the output and gate gradients
    # add up past 5, while a small Whh keeps the recurrence well conditioned.
    inputs, targets, hprev, params = make_case(cell, V=5, H=20, T=80, scale=0.3, seed=5)
    params["Wxh"] *= 10
    params["Why"] *= 5
    got = assert_matches_reference(cell, inputs, targets, hprev, params)
    clipped = [np.mean(np.abs(g) == 5) for g in got[1:6]]
    assert max(clipped) > 0.05, "the case must actually clip"
    assert sum(clipped) > 0.2
    assert all(np.abs(g).max() <= 5 for g in got[1:6])


def test_lossFun_repeated_characters_accumulate_dWxh(cell):
    # the same input index at several steps: its dWxh column sums every step's contribution
    _, targets, hprev, params = make_case(cell, V=4, H=6, T=12, scale=0.5, seed=7)
    assert_matches_reference(cell, np.array([2, 2, 1, 2, 0, 2, 2, 3, 2, 2, 1, 2]), targets, hprev, params)


def test_lossFun_numerical_gradient(cell):
    inputs, targets, hprev, params = make_case(cell, V=8, H=6, T=10, scale=0.3, seed=11)
    _, *grads, _ = cell.m.lossFun(inputs, targets, hprev, params)
    assert max(np.abs(g).max() for g in grads) < 5, "must be the unclipped regime"
    eps = 1e-5
    p = {k: v.copy() for k, v in params.items()}
    for name, g in zip(cell.m.PARAM_NAMES, grads):
        for idx in np.ndindex(g.shape):
            p[name][idx] = params[name][idx] + eps
            up = cell.m.lossFun(inputs, targets, hprev, p)[0]
            p[name][idx] = params[name][idx] - eps
            down = cell.m.lossFun(inputs, targets, hprev, p)[0]
            p[name][idx] = params[name][idx]
            num = (up - down) / (2 * eps)
            assert abs(num - g[idx]) <= 1e-6 * max(1.0, abs(num)), (name, idx, num, g[idx])


def test_h_last_carries_the_whole_state(cell):
    # A chunk cut in two, the second part started from the first part's h_last, has the
    # same loss and final state as the chunk in one piece: h_last is all the state there is.
    inputs, targets, hprev, params = make_case(cell, V=9, H=8, T=20, scale=0.5, seed=6)
    whole = cell.m.lossFun(inputs, targets, hprev, params)
    first = cell.m.lossFun(inputs[:7], targets[:7], hprev, params)
    second = cell.m.lossFun(inputs[7:], targets[7:], first[6], params)
    assert whole[0] == pytest.approx(first[0] + second[0], rel=1e-13)
    np.testing.assert_allclose(second[6], whole[6], rtol=1e-13, atol=1e-15)
    assert whole[6].shape == hprev.shape and whole[6].dtype == np.float64


def test_lossFun_is_a_sum_of_negative_log_probabilities(cell):
    # all-zero weights: every p_t is uniform, so the loss is T * log(V) exactly
    V, H, T = 9, 5, 14
    params = {k: np.zeros_like(v) for k, v in cell.m.init_params(V, H, np.random.default_rng(0)).items()}
    loss = cell.m.lossFun(np.arange(T) % V, (np.arange(T) + 1) % V, cell.m.zero_state(H), params)[0]
    assert loss == pytest.approx(T * np.log(V), rel=1e-12)


def test_lossFun_leaves_inputs_alone_and_is_stable(cell):
    inputs, targets, hprev, params = make_case(cell, V=10, H=8, T=6, scale=0.3, seed=4)
    before = {k: v.copy() for k, v in params.items()}
    h0 = hprev.copy()
    out = cell.m.lossFun(inputs, targets, hprev, params)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    np.testing.assert_array_equal(hprev, h0)
    assert not np.shares_memory(out[6], hprev)
    # scores of 1e4 and more: a naive exp overflows, the shifted softmax does not
    params["Why"] = params["Why"] * 1e5
    out = cell.m.lossFun(inputs, targets, hprev, params)
    assert np.isfinite(out[0]) and out[0] > 1e3
    assert all(np.isfinite(g).all() for g in out[1:])


def test_lossFun_writes_the_gradients_into_the_buffer(cell):
    inputs, targets, hprev, params = make_case(cell, V=10, H=8, T=6, scale=0.3, seed=9)
    buf = np.full(sum(v.size for v in params.values()), np.nan)  # every entry must be written
    got = cell.m.lossFun(inputs, targets, hprev, params, buf)
    plain = cell.m.lossFun(inputs, targets, hprev, params)
    for g, w, name in zip(got, plain, NAMES):
        np.testing.assert_array_equal(g, w, err_msg=name)
    for g in got[1:6]:
        assert g.base is buf
    # in PARAM_NAMES order, one after another
    np.testing.assert_array_equal(np.concatenate([g.ravel() for g in got[1:6]]), buf)
    assert not np.shares_memory(got[6], buf)


# ---------------------------------------------------------------------------
# sample and advance
# ---------------------------------------------------------------------------

def test_greedy_is_the_argmax_path_and_leaves_rng_alone(cell):
    _, _, h, params = make_case(cell, V=12, H=10, T=1, scale=0.8, seed=8)
    h0 = h.copy()
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    got = cell.m.sample(h, 3, 60, params, strategy="greedy", rng=rng)
    assert got == cell.ref.greedy_ref(h, 3, 60, params)
    assert rng.bit_generator.state == state
    np.testing.assert_array_equal(h, h0)
    assert cell.m.sample(h, 3, 60, params, strategy="greedy", temperature=0.3) == got  # rng=None is fine
    assert len(set(got)) > 1, "a path that moves, not one repeated character"


def first_step_probabilities(cell, h, seed_ix, params, temperature):
    y = cell.ref.step_ref(h, seed_ix, params)[1].ravel() / temperature
    p = np.exp(y - y.max())
    return p / p.sum()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_multinomial_frequencies_follow_softmax_over_temperature(cell, temperature):
    _, _, h, params = make_case(cell, V=6, H=5, T=1, scale=1.0, seed=9)
    p = first_step_probabilities(cell, h, 2, params, temperature)
    rng = np.random.default_rng(42)
    N = 20000
    counts = np.bincount([cell.m.sample(h, 2, 1, params, temperature=temperature, rng=rng)[0]
                          for _ in range(N)], minlength=6)
    sigma = np.sqrt(N * p * (1 - p))
    assert np.all(np.abs(counts - N * p) <= 4.5 * sigma + 1), (counts, N * p)
    # the temperature must matter: these probabilities are far from the T=1 ones
    if temperature != 1.0:
        assert np.abs(p - first_step_probabilities(cell, h, 2, params, 1.0)).max() > 0.05


def test_sample_is_reproducible_and_near_zero_temperature_is_greedy(cell):
    _, _, h, params = make_case(cell, V=7, H=6, T=1, scale=1.0, seed=10)
    a = cell.m.sample(h, 1, 50, params, rng=np.random.default_rng(5))
    b = cell.m.sample(h, 1, 50, params, rng=np.random.default_rng(5))
    assert a == b and len(a) == 50 and all(0 <= i < 7 for i in a)
    assert cell.m.sample(h, 1, 50, params, temperature=1e-6, rng=np.random.default_rng(5)) == \
        cell.ref.greedy_ref(h, 1, 50, params)
    assert cell.m.sample(h, 1, 0, params, rng=np.random.default_rng(5)) == []


@pytest.mark.parametrize("temperature", [0.7, 1.0])
def test_sample_noise_blocks_are_invisible(cell, temperature):
    # 600 steps: three blocks of noise. The result is the plain per-step Gumbel-max draw,
    # one row of the same generator per step, in order.
    V = 9
    _, _, h, params = make_case(cell, V=V, H=8, T=1, scale=0.5, seed=12)
    rng = np.random.default_rng(3)
    got = cell.m.sample(h, 4, 600, params, temperature=temperature, rng=rng)
    plain_rng = np.random.default_rng(3)
    state, ix, want = h, 4, []
    for _ in range(600):
        state, y = cell.ref.step_ref(state, ix, params)
        g = -np.log(-np.log(plain_rng.random(V)))
        ix = int(np.argmax(y.ravel() + temperature * g))
        want.append(ix)
    assert got == want
    assert rng.bit_generator.state == plain_rng.bit_generator.state  # exactly 600 rows drawn
    assert len(set(got)) > 3
    assert cell.m.sample(h, 4, 600, params, strategy="greedy") == cell.ref.greedy_ref(h, 4, 600, params)


def test_sample_rejects_bad_arguments(cell):
    _, _, h, params = make_case(cell)
    with pytest.raises(ValueError):
        cell.m.sample(h, 0, 5, params, strategy="beam")
    for strategy in ("multinomial", "greedy"):
        for temperature in (0, -1.0, float("nan")):
            with pytest.raises(ValueError):
                cell.m.sample(h, 0, 5, params, strategy=strategy, temperature=temperature)


def test_advance_follows_the_reference_recurrence(cell):
    _, _, h, params = make_case(cell, V=10, H=7, T=1, scale=0.6, seed=13)
    h0 = h.copy()
    ixs = np.random.default_rng(1).integers(0, 10, 30)
    want = h
    for ix in ixs:
        want = cell.ref.step_ref(want, ix, params)[0]
    got = cell.m.advance(h, list(ixs), params)
    assert got.shape == h.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(cell.m.advance(h, [], params), h)
    # priming with advance, then sampling, is sampling from the primed state
    assert cell.m.sample(got, 3, 20, params, strategy="greedy") == cell.ref.greedy_ref(want, 3, 20, params)


# ---------------------------------------------------------------------------
# heldout_loss
# ---------------------------------------------------------------------------

def plain_heldout(cell, inputs, targets, params):
    """Each stream on its own, step by step from the zero state, -log p summed where target >= 0."""
    H = params["Whh"].shape[1]
    total = 0.0
    for b in range(inputs.shape[1]):
        state = cell.ref.zero_state_ref(H)
        for ix, target in zip(inputs[:, b], targets[:, b]):
            state, y = cell.ref.step_ref(state, ix, params)
            if target >= 0:
                y = y.ravel()
                total += np.log(np.sum(np.exp(y - y.max()))) - (y[target] - y.max())
    return total


def ragged_streams(V, T, lengths, seed):
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, V, (T, len(lengths)))  # padded positions still hold valid indices
    targets = rng.integers(0, V, (T, len(lengths)))
    for b, length in enumerate(lengths):
        targets[length:, b] = -1
    return inputs, targets


def test_heldout_loss_matches_streams_run_one_by_one(cell):
    # 150 steps: three time blocks, the last one partial; streams of ragged lengths, one of
    # them all padding, one with padding in the middle too (only the targets count)
    V = 13
    _, _, _, params = make_case(cell, V=V, H=9, T=1, scale=0.3, seed=14)
    inputs, targets = ragged_streams(V, 150, [150, 149, 120, 64, 63, 1, 0], seed=2)
    targets[30:40, 0] = -1
    got = cell.m.heldout_loss(inputs, targets, params)
    assert isinstance(got, float)
    want = plain_heldout(cell, inputs, targets, params)
    assert got == pytest.approx(want, rel=1e-10)
    assert got > 100


def test_heldout_loss_of_one_stream_is_lossFun_from_the_zero_state(cell):
    inputs, targets, _, params = make_case(cell, V=20, H=16, T=70, scale=0.4, seed=15)
    got = cell.m.heldout_loss(inputs[:, None], targets[:, None], params)
    want = cell.m.lossFun(inputs, targets, cell.m.zero_state(16), params)[0]
    assert got == pytest.approx(want, rel=1e-12)


def test_heldout_loss_edge_cases_and_bad_input(cell):
    _, _, _, params = make_case(cell, V=6, H=4, T=1, scale=0.3, seed=16)
    assert cell.m.heldout_loss(np.zeros((0, 3), dtype=int), np.zeros((0, 3), dtype=int), params) == 0.0
    assert cell.m.heldout_loss(np.zeros((5, 2), dtype=int), np.full((5, 2), -1), params) == 0.0
    # uniform scores: every counted position costs log V
    zero = {k: np.zeros_like(v) for k, v in params.items()}
    inputs, targets = ragged_streams(6, 40, [40, 13, 0], seed=3)
    assert cell.m.heldout_loss(inputs, targets, zero) == pytest.approx(53 * np.log(6), rel=1e-12)
    with pytest.raises(ValueError):
        cell.m.heldout_loss(np.zeros((5, 2), dtype=int), np.zeros((5, 3), dtype=int), params)
    with pytest.raises(ValueError):
        cell.m.heldout_loss(np.zeros(5, dtype=int), np.zeros(5, dtype=int), params)
    for bad in (6, -1):
        inputs = np.zeros((5, 2), dtype=int)
        inputs[2, 1] = bad
        with pytest.raises(ValueError):
            cell.m.heldout_loss(inputs, np.zeros((5, 2), dtype=int), params)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def test_training_with_adagrad_lowers_the_loss(cell):
    chars = sorted(set(TEXT))
    data = np.array([chars.index(c) for c in TEXT])
    V, H, seq_length, learning_rate = len(chars), 16, 10, 0.1
    params = cell.m.init_params(V, H, np.random.default_rng(1))
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    hprev, p, losses = cell.m.zero_state(H), 0, []
    for n in range(300):
        if p + seq_length + 1 >= len(data) or n == 0:
            hprev, p = cell.m.zero_state(H), 0
        loss, *grads, hprev = cell.m.lossFun(data[p:p + seq_length], data[p + 1:p + seq_length + 1],
                                             hprev, params)
        for name, g in zip(cell.m.PARAM_NAMES, grads):
            mem[name] += g * g
            params[name] -= learning_rate * g / np.sqrt(mem[name] + 1e-8)
        losses.append(loss)
        p += seq_length
    assert losses[0] == pytest.approx(seq_length * np.log(V), rel=0.01)
    assert np.mean(losses[-20:]) < 0.4 * losses[0], (losses[0], np.mean(losses[-20:]))

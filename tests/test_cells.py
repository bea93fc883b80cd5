"""The contract every cell keeps, checked alike for "rnn", "lstm" and "gru": the cell's own
module (init_params, zero_state, lossFun, step_weights, step) and min_char_rnn's shared drivers
run with it (sample, advance, heldout_loss), against the plain per-step references
(tests/reference.py, reference_lstm.py, reference_gru.py), numerical gradients and known
distributions."""
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import reference
import reference_gru
import reference_lstm
from helpers import ROOT

import min_char_gru
import min_char_lstm
import min_char_rnn as m
from charrnn.model import CELLS as CELL_NAMES
from charrnn.model import ModelSpec, cell_module


# m: the cell's module; ref: its reference; blocks: gate blocks of H rows in Wxh, Whh and bh;
# state: rows of the carried state, in H; large: the largest weights whose case still agrees
# with the reference to 1e-10 (the vanilla tanh of 100 units turns chaotic above about 0.2)
CELLS = {"rnn": SimpleNamespace(name="rnn", m=m, ref=reference, blocks=1, state=1, large=0.2),
         "lstm": SimpleNamespace(name="lstm", m=min_char_lstm, ref=reference_lstm, blocks=4, state=2,
                                 large=0.3),
         "gru": SimpleNamespace(name="gru", m=min_char_gru, ref=reference_gru, blocks=3, state=1,
                                large=0.3)}
TEXT = "the quick brown fox jumps over the lazy dog.\nshe sells sea shells by the sea shore.\n" * 20
NAMES = ("loss", "dWxh", "dWhh", "dWhy", "dbh", "dby", "h_last")


def test_the_contract_covers_every_cell():
    assert list(CELLS) == list(CELL_NAMES)


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
    for g, w, name in zip(got, want, NAMES, strict=True):
        assert np.shape(g) == np.shape(w), name
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13, err_msg=name)
    return got


def sample(cell, *args, **kwargs):
    """min_char_rnn.sample with the cell's module."""
    return m.sample(*args, **kwargs, cell=cell.m)


def greedy_ref(cell, h, seed_ix, n, params):
    """The references' greedy decoder, through the cell's own reference step."""
    return reference.greedy_ref(h, seed_ix, n, params, cell.ref.step_ref)


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
    if cell.name == "lstm":
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


def test_parameter_shapes_are_the_cells_own(cell):
    """The memory estimate and the checkpoint validator know the shapes without building them."""
    assert CELL_NAMES[cell.name] and cell_module(cell.name) is cell.m
    params = cell.m.init_params(7, 5, np.random.default_rng(0))
    spec = ModelSpec(cell.name, 7, 5)
    assert spec.param_shapes() == {k: v.shape for k, v in params.items()}
    assert list(spec.param_shapes()) == list(params)  # the order of the flat vectors and gradients
    assert spec.state_shape() == cell.m.zero_state(5).shape
    assert spec.math() is cell.m


# ---------------------------------------------------------------------------
# lossFun
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("V,H,T,seed", [(11, 7, 9, 0), (5, 3, 1, 1), (65, 100, 25, 2), (30, 20, 40, 3)])
def test_lossFun_matches_step_by_step_reference(cell, V, H, T, seed, large):
    assert_matches_reference(cell, *make_case(cell, V, H, T, scale=cell.large if large else 0.01, seed=seed))


def test_lossFun_matches_reference_when_clipping_bites(cell):
    # Many steps over a small vocabulary with saturated units: the output and gate gradients
    # add up past 5, while a small Whh keeps the recurrence well conditioned.
    inputs, targets, hprev, params = make_case(cell, V=5, H=20, T=80, scale=0.3, seed=5)
    params["Wxh"] *= 10
    params["Why"] *= 5
    got = assert_matches_reference(cell, inputs, targets, hprev, params)
    clipped = [np.mean(np.abs(g) == 5) for g in got[1:6]]
    assert max(clipped) > 0.05, "the case must actually clip"
    assert sum(clipped) > 0.2
    assert all(np.abs(g).max() <= 5 for g in got[1:6])


@pytest.mark.parametrize("scale", [0.01, 0.5])
def test_lossFun_repeated_characters_accumulate_dWxh(cell, scale):
    # the same input index at several steps: its dWxh column sums every step's contribution
    _, targets, hprev, params = make_case(cell, V=4, H=6, T=12, scale=scale, seed=7)
    assert_matches_reference(cell, np.array([2, 2, 1, 2, 0, 2, 2, 3, 2, 2, 1, 2]), targets, hprev, params)


def test_lossFun_numerical_gradient(cell):
    inputs, targets, hprev, params = make_case(cell, V=8, H=6, T=10, scale=0.3, seed=11)
    _, *grads, _ = cell.m.lossFun(inputs, targets, hprev, params)
    assert max(np.abs(g).max() for g in grads) < 5, "must be the unclipped regime"
    eps = 1e-5
    p = {k: v.copy() for k, v in params.items()}
    for name, g in zip(cell.m.PARAM_NAMES, grads, strict=True):
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


@pytest.mark.parametrize("scale", [0.01, 0.3])
def test_lossFun_leaves_inputs_alone_and_is_stable(cell, scale):
    inputs, targets, hprev, params = make_case(cell, V=10, H=8, T=6, scale=scale, seed=4)
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
    assert np.isfinite(out[0]) and all(np.isfinite(g).all() for g in out[1:])
    if scale > 0.1:
        assert out[0] > 1e3


def test_lossFun_writes_the_gradients_into_the_buffer(cell):
    inputs, targets, hprev, params = make_case(cell, V=10, H=8, T=6, scale=0.3, seed=9)
    buf = np.full(sum(v.size for v in params.values()), np.nan)  # every entry must be written
    got = cell.m.lossFun(inputs, targets, hprev, params, buf)
    plain = cell.m.lossFun(inputs, targets, hprev, params)
    for g, w, name in zip(got, plain, NAMES, strict=True):
        np.testing.assert_array_equal(g, w, err_msg=name)
    for g in got[1:6]:
        assert g.base is buf
    # in PARAM_NAMES order, one after another
    np.testing.assert_array_equal(np.concatenate([g.ravel() for g in got[1:6]]), buf)
    assert not np.shares_memory(got[6], buf)


# ---------------------------------------------------------------------------
# step: one character, for one stream or B side by side
# ---------------------------------------------------------------------------

def test_step_is_one_step_of_the_reference_for_one_stream(cell):
    _, _, h, params = make_case(cell, V=10, H=7, T=1, scale=0.6, seed=17)
    h0 = h.copy()
    w = cell.m.step_weights(params)
    for ix in (0, 4, 9):
        got = cell.m.step(h.ravel(), ix, w)
        want = cell.ref.step_ref(h, ix, params)[0]
        assert got.shape == (cell.state * 7,)
        np.testing.assert_allclose(got, want.ravel(), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(h, h0)  # the caller's state is left alone


def test_step_runs_a_batch_of_streams_as_each_alone(cell):
    V, H, B = 10, 7, 5
    _, _, _, params = make_case(cell, V=V, H=H, T=1, scale=0.6, seed=18)
    rng = np.random.default_rng(2)
    states = np.hstack([random_state(cell, H, rng) for _ in range(B)]).T  # (B, S): row b is stream b
    ixs = np.array([3, 3, 0, 9, 5])  # a character twice: rows are not mixed up
    before = states.copy()
    got = cell.m.step(states, ixs, cell.m.step_weights(params))
    assert got.shape == (B, cell.state * H)
    for b in range(B):
        want = cell.ref.step_ref(states[b][:, None], ixs[b], params)[0]
        np.testing.assert_allclose(got[b], want.ravel(), rtol=1e-12, atol=1e-15, err_msg=f"stream {b}")
    np.testing.assert_array_equal(states, before)


def test_step_is_the_recurrence_of_lossFun(cell):
    # the carried state after a chunk is the chunk's characters fed through step one by one
    inputs, targets, hprev, params = make_case(cell, V=9, H=6, T=15, scale=0.5, seed=19)
    state, w = hprev.ravel(), cell.m.step_weights(params)
    for ix in inputs:
        state = cell.m.step(state, ix, w)
    h_last = cell.m.lossFun(inputs, targets, hprev, params)[6]
    np.testing.assert_allclose(state, h_last.ravel(), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------
# sample and advance (min_char_rnn's, with the cell's module)
# ---------------------------------------------------------------------------

def test_greedy_is_the_argmax_path_and_leaves_rng_alone(cell):
    _, _, h, params = make_case(cell, V=12, H=10, T=1, scale=0.8, seed=8)
    h0 = h.copy()
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    got = sample(cell, h, 3, 60, params, strategy="greedy", rng=rng)
    assert got == greedy_ref(cell, h, 3, 60, params)
    assert rng.bit_generator.state == state
    np.testing.assert_array_equal(h, h0)
    assert sample(cell, h, 3, 60, params, strategy="greedy", temperature=0.3) == got  # rng=None is fine
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
    counts = np.bincount([sample(cell, h, 2, 1, params, temperature=temperature, rng=rng)[0]
                          for _ in range(N)], minlength=6)
    sigma = np.sqrt(N * p * (1 - p))
    assert np.all(np.abs(counts - N * p) <= 4.5 * sigma + 1), (counts, N * p)
    # the temperature must matter: these probabilities are far from the T=1 ones
    if temperature != 1.0:
        assert np.abs(p - first_step_probabilities(cell, h, 2, params, 1.0)).max() > 0.05


def test_sample_is_reproducible_and_near_zero_temperature_is_greedy(cell):
    _, _, h, params = make_case(cell, V=7, H=6, T=1, scale=1.0, seed=10)
    a = sample(cell, h, 1, 50, params, rng=np.random.default_rng(5))
    b = sample(cell, h, 1, 50, params, rng=np.random.default_rng(5))
    assert a == b and len(a) == 50 and all(0 <= i < 7 for i in a)
    assert sample(cell, h, 1, 50, params, temperature=1e-6, rng=np.random.default_rng(5)) == \
        greedy_ref(cell, h, 1, 50, params)
    assert sample(cell, h, 1, 0, params, rng=np.random.default_rng(5)) == []
    if cell.name == "rnn":  # cell=None is the vanilla RNN
        assert m.sample(h, 1, 50, params, rng=np.random.default_rng(5)) == a


@pytest.mark.parametrize("temperature", [0.7, 1.0])
def test_sample_noise_blocks_are_invisible(cell, temperature):
    # 600 steps: three blocks of noise. The result is the plain per-step Gumbel-max draw,
    # one row of the same generator per step, in order.
    V = 9
    _, _, h, params = make_case(cell, V=V, H=8, T=1, scale=0.5, seed=12)
    rng = np.random.default_rng(3)
    got = sample(cell, h, 4, 600, params, temperature=temperature, rng=rng)
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
    assert sample(cell, h, 4, 600, params, strategy="greedy") == greedy_ref(cell, h, 4, 600, params)
    blocks = list(m.sample_blocks(h, 4, 600, params, temperature=temperature, rng=np.random.default_rng(3),
                                  cell=cell.m))
    assert [len(b) for b in blocks] == [m.NOISE_BLOCK, m.NOISE_BLOCK, 600 - 2 * m.NOISE_BLOCK]
    assert [ix for b in blocks for ix in b] == got


def test_sample_rejects_bad_arguments(cell):
    _, _, h, params = make_case(cell)
    with pytest.raises(ValueError):
        sample(cell, h, 0, 5, params, strategy="beam")
    for strategy in ("multinomial", "greedy"):
        for temperature in (0, -1.0, float("nan")):
            with pytest.raises(ValueError):
                sample(cell, h, 0, 5, params, strategy=strategy, temperature=temperature)


def test_advance_follows_the_reference_recurrence(cell):
    _, _, h, params = make_case(cell, V=10, H=7, T=1, scale=0.6, seed=13)
    h0 = h.copy()
    ixs = np.random.default_rng(1).integers(0, 10, 30)
    want = h
    for ix in ixs:
        want = cell.ref.step_ref(want, ix, params)[0]
    got = m.advance(h, list(ixs), params, cell.m)
    assert got.shape == h.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(m.advance(h, [], params, cell.m), h)
    # priming with advance, then sampling, is sampling from the primed state
    assert sample(cell, got, 3, 20, params, strategy="greedy") == greedy_ref(cell, want, 3, 20, params)


# ---------------------------------------------------------------------------
# heldout_loss (min_char_rnn's, with the cell's module)
# ---------------------------------------------------------------------------

def plain_heldout(cell, inputs, targets, params, start=None):
    """Each stream on its own, step by step from start (None: the zero state), -log p summed
    where target >= 0."""
    H = params["Whh"].shape[1]
    total = 0.0
    for b in range(inputs.shape[1]):
        state = cell.ref.zero_state_ref(H) if start is None else start.copy()
        for ix, target in zip(inputs[:, b], targets[:, b], strict=True):
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
    got = m.heldout_loss([(inputs, targets)], params, cell.m)
    assert isinstance(got, float)
    want = plain_heldout(cell, inputs, targets, params)
    assert got == pytest.approx(want, rel=1e-10)
    assert got > 100
    # a target 0 counts like any other: only -1 is padding
    targets[5, 1] = 0
    want = plain_heldout(cell, inputs, targets, params)
    assert m.heldout_loss([(inputs, targets)], params, cell.m) == pytest.approx(want, rel=1e-10)


def test_heldout_loss_from_a_given_state(cell):
    """Every stream starts from the state given (the training's carried state, in a run)."""
    V = 13
    inputs, targets, hprev, params = make_case(cell, V=V, H=9, T=30, scale=0.3, seed=16)
    start = cell.m.lossFun(inputs, targets, hprev, params)[-1]  # a state the cell really reaches
    inputs, targets = ragged_streams(V, 80, [80, 70, 5, 0], seed=3)
    got = m.heldout_loss([(inputs, targets)], params, cell.m, start)
    assert got == pytest.approx(plain_heldout(cell, inputs, targets, params, start), rel=1e-10)
    assert got != pytest.approx(plain_heldout(cell, inputs, targets, params), rel=1e-6)


def test_heldout_loss_of_one_stream_is_lossFun_from_the_zero_state(cell):
    inputs, targets, _, params = make_case(cell, V=20, H=16, T=70, scale=0.4, seed=15)
    got = m.heldout_loss([(inputs[:, None], targets[:, None])], params, cell.m)
    want = cell.m.lossFun(inputs, targets, cell.m.zero_state(16), params)[0]
    assert got == pytest.approx(want, rel=1e-12)


def heldout(inputs, targets, params, cell):
    """heldout_loss of the streams given as one block."""
    return m.heldout_loss([(inputs, targets)], params, cell)


def test_heldout_loss_of_blocks_is_that_of_the_streams_whole(cell):
    """Block by block, the streams carry their states across: the same sum as one block."""
    _, _, _, params = make_case(cell, V=13, H=9, T=1, scale=0.3, seed=14)
    inputs, targets = ragged_streams(13, 150, [150, 149, 120, 64, 63, 1, 0], seed=2)
    blocks = [(inputs[a:b], targets[a:b]) for a, b in ((0, 7), (7, 70), (70, 71), (71, 150))]
    assert m.heldout_loss(blocks, params, cell.m) == pytest.approx(heldout(inputs, targets, params, cell.m),
                                                                   rel=1e-12)
    with pytest.raises(ValueError):  # every block has the streams of the first
        m.heldout_loss([(inputs[:5], targets[:5]), (inputs[5:, :3], targets[5:, :3])], params, cell.m)


def test_heldout_loss_edge_cases_and_bad_input(cell):
    _, _, _, params = make_case(cell, V=6, H=4, T=1, scale=0.3, seed=16)
    assert heldout(np.zeros((0, 3), dtype=int), np.zeros((0, 3), dtype=int), params, cell.m) == 0.0
    assert heldout(np.zeros((5, 2), dtype=int), np.full((5, 2), -1), params, cell.m) == 0.0
    # uniform scores: every counted position costs log V
    zero = {k: np.zeros_like(v) for k, v in params.items()}
    inputs, targets = ragged_streams(6, 40, [40, 13, 0], seed=3)
    assert heldout(inputs, targets, zero, cell.m) == pytest.approx(53 * np.log(6), rel=1e-12)
    with pytest.raises(ValueError):
        heldout(np.zeros((5, 2), dtype=int), np.zeros((5, 3), dtype=int), params, cell.m)
    with pytest.raises(ValueError):
        heldout(np.zeros(5, dtype=int), np.zeros(5, dtype=int), params, cell.m)
    for bad in (6, -1):
        inputs = np.zeros((5, 2), dtype=int)
        inputs[2, 1] = bad
        with pytest.raises(ValueError):
            heldout(inputs, np.zeros((5, 2), dtype=int), params, cell.m)


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
        for name, g in zip(cell.m.PARAM_NAMES, grads, strict=True):
            mem[name] += g * g
            params[name] -= learning_rate * g / np.sqrt(mem[name] + 1e-8)
        losses.append(loss)
        p += seq_length
    assert losses[0] == pytest.approx(seq_length * np.log(V), rel=0.01)
    assert np.mean(losses[-20:]) < 0.4 * losses[0], (losses[0], np.mean(losses[-20:]))


# ---------------------------------------------------------------------------
# The gated modules are not scripts
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_a_gated_module_run_directly_says_how_to_train_it(name):
    r = subprocess.run([sys.executable, f"min_char_{name}.py"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode != 0 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"--cell {name}" in lines[0] and "min_char_rnn.py" in lines[0], lines[0]

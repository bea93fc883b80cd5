"""What min_char_rnn.py holds besides the cell contract (test_cells.py): the vanilla init's
distribution, the shared output layer softmax_loss, Adagrad, the flat views the training loop
keeps its vectors in, and the vocabulary."""
import numpy as np
import pytest
from reference import adagrad_ref

import min_char_rnn as m
from charrnn.text import build_vocab


def random_params(V, H, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape) for k, v in m.init_params(V, H, rng).items()}


def test_init_params_shapes_and_distribution():
    params = m.init_params(65, 100, np.random.default_rng(3))
    assert {k: v.shape for k, v in params.items()} == {
        "Wxh": (100, 65), "Whh": (100, 100), "Why": (65, 100), "bh": (100, 1), "by": (65, 1)}
    assert all(v.dtype == np.float64 for v in params.values())
    assert not params["bh"].any() and not params["by"].any()
    rng = np.random.default_rng(3)  # same draws, in the same order
    np.testing.assert_array_equal(params["Wxh"], rng.standard_normal((100, 65)) * 0.01)
    np.testing.assert_array_equal(params["Whh"], rng.standard_normal((100, 100)) * 0.01)
    assert abs(params["Whh"].std() - 0.01) < 0.0005


def plain_softmax_loss(h, targets, Why, by):
    """One row at a time: p_t = softmax(Why h_t + by), loss = sum_t -log p_t[target_t], and
    with dy_t = p_t - onehot(target_t): dWhy = sum_t dy_t h_t^T, dby = sum_t dy_t, dh_t = Why^T dy_t."""
    loss, dWhy, dby, dh = 0.0, np.zeros_like(Why), np.zeros_like(by), []
    for h_t, target in zip(h, targets, strict=True):
        y = Why @ h_t[:, None] + by
        p = np.exp(y - y.max())
        p /= p.sum()
        loss -= np.log(p[target, 0])
        dy = p.copy()
        dy[target] -= 1
        dWhy += dy @ h_t[None, :]
        dby += dy
        dh.append((Why.T @ dy).ravel())
    return loss, dWhy, dby, np.array(dh).reshape(h.shape)


def output_case(T, scale, V=7, H=5):
    rng = np.random.default_rng(T)
    h = rng.standard_normal((T, H))
    Why, by = rng.standard_normal((V, H)) * scale, rng.standard_normal((V, 1))
    return h, rng.integers(0, V, T), Why, by


@pytest.mark.parametrize("T,scale", [(1, 1.0), (12, 1.0), (30, 50.0)])
def test_softmax_loss_is_the_plain_computation(T, scale):
    h, targets, Why, by = output_case(T, scale)
    before = (h.copy(), Why.copy(), by.copy())
    want_loss, want_dWhy, want_dby, want_dh = plain_softmax_loss(h, targets, Why, by)
    dWhy, dby = np.full_like(Why, np.nan), np.full_like(by, np.nan)  # every entry must be written
    loss, dh = m.softmax_loss(h, targets, Why, by, dWhy, dby)
    assert isinstance(loss, float)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(dWhy, want_dWhy, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dby, want_dby, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dby.sum(), 0, atol=1e-10)  # each p sums to 1, as each one-hot does
    assert dh.shape == h.shape
    np.testing.assert_allclose(dh, want_dh, rtol=1e-10, atol=1e-12)
    # the loss alone, without the backward pass
    loss_only, nothing = m.softmax_loss(h, targets, Why, by)
    assert loss_only == loss and nothing is None
    for a, b in zip((h, Why, by), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_softmax_loss_is_stable_for_huge_scores():
    # scores of 1e5: a naive exp overflows; a target far below the others costs its whole margin
    h = np.array([[1.0], [1.0]])
    Why, by = np.array([[1e5], [0.0], [-1e5]]), np.zeros((3, 1))
    dWhy, dby = np.empty_like(Why), np.empty_like(by)
    loss, dh = m.softmax_loss(h, np.array([0, 2]), Why, by, dWhy, dby)
    assert loss == pytest.approx(2e5, rel=1e-12)
    np.testing.assert_allclose(dby, [[1], [0], [-1]], atol=1e-300)  # dy: (0, 0, 0) and (1, 0, -1)
    np.testing.assert_allclose(dh, [[0], [2e5]], rtol=1e-12)
    assert m.softmax_loss(np.zeros((0, 1)), np.zeros(0, dtype=int), Why, by)[0] == 0.0


def test_adagrad_update_matches_formula():
    params = random_params(9, 4, seed=12)
    rng = np.random.default_rng(1)
    mem = {k: rng.random(v.shape) for k, v in params.items()}
    grads = tuple(rng.standard_normal(params[k].shape) for k in m.PARAM_NAMES)
    want_p = {k: v.copy() for k, v in params.items()}
    want_m = {k: v.copy() for k, v in mem.items()}
    adagrad_ref(want_p, grads, want_m, 0.1)

    # all five at once as flat vectors, as the training loop calls it
    param_vec, flat_params = m.flat_views(params)
    mem_vec, flat_mem = m.flat_views(mem)
    m.adagrad_update(param_vec, np.concatenate([g.ravel() for g in grads]), mem_vec, 0.1)
    # one array at a time, on the original dicts
    for k, g in zip(m.PARAM_NAMES, grads, strict=True):
        m.adagrad_update(params[k], g, mem[k], 0.1)

    for got_p, got_m in ((params, mem), (flat_params, flat_mem)):
        for k in params:
            np.testing.assert_allclose(got_m[k], want_m[k], rtol=1e-15)
            np.testing.assert_allclose(got_p[k], want_p[k], rtol=1e-13)


def test_adagrad_epsilon_keeps_a_zero_memory_finite():
    # mem stays 0 where the gradient is 0: the step there is 0 / sqrt(1e-8), not nan; a tiny
    # gradient's step is lr * g / sqrt(g^2 + 1e-8), where the 1e-8 shows
    param, mem = np.ones(3), np.zeros(3)
    dparam = np.array([0.0, 1e-4, 2.0])
    m.adagrad_update(param, dparam, mem, 0.5)
    want = 1 - 0.5 * dparam / np.sqrt(dparam * dparam + 1e-8)
    np.testing.assert_allclose(param, want, rtol=1e-15)
    assert param[1] == pytest.approx(1 - 0.5 / np.sqrt(2), rel=1e-12)


def test_flat_views_are_views_with_the_shapes():
    params = random_params(9, 4, seed=13)
    vec, views = m.flat_views(params)
    assert vec.shape == (sum(v.size for v in params.values()),)
    for k in m.PARAM_NAMES:
        np.testing.assert_array_equal(views[k], params[k])
    vec += 1  # writing the vector changes every view, and not the original arrays
    for k in m.PARAM_NAMES:
        np.testing.assert_array_equal(views[k], params[k] + 1)
    views["by"][2, 0] = 7.0
    assert vec[-params["by"].size + 2] == 7.0


def test_split_like_gives_views_in_order():
    flat = np.arange(10.0)
    a, b = m.split_like(flat, (np.empty((2, 3)), np.empty((4, 1))))
    np.testing.assert_array_equal(a, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b, [[6], [7], [8], [9]])
    assert a.base is flat and b.base is flat


def test_build_vocab_is_sorted_and_maps_every_character():
    text = "héllo, wörld\nzebra ABC é"
    chars, data = build_vocab(text)
    assert chars == sorted(set(text))
    assert [chars[i] for i in data] == list(text)
    # with a model's vocabulary, a text of fewer characters keeps the model's indices
    chars2, data2 = build_vocab("wörld", chars)
    assert chars2 == chars and [chars[i] for i in data2] == list("wörld")

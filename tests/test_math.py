"""lossFun, sample and adagrad_update against plain references, numerical gradients and known distributions."""
import numpy as np
import pytest

import min_char_rnn as m
from reference import adagrad_ref, greedy_ref, lossFun_ref


def make_case(V=11, H=7, T=9, scale=0.01, seed=0):
    rng = np.random.default_rng(seed)
    params = m.init_params(V, H, rng)
    for k in params:  # biases too, so every term of the math is exercised
        params[k] = rng.standard_normal(params[k].shape) * scale
    inputs = rng.integers(0, V, T)
    targets = rng.integers(0, V, T)
    hprev = np.tanh(rng.standard_normal((H, 1)))
    return inputs, targets, hprev, params


def assert_matches_reference(inputs, targets, hprev, params):
    got = m.lossFun(inputs, targets, hprev, params)
    want = lossFun_ref(list(inputs), list(targets), hprev, params)
    assert len(got) == 7
    for g, w, name in zip(got, want, ("loss", "dWxh", "dWhh", "dWhy", "dbh", "dby", "h_last")):
        assert np.shape(g) == np.shape(w), name
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13, err_msg=name)
    return got


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


@pytest.mark.parametrize("V,H,T,seed", [(11, 7, 9, 0), (5, 3, 1, 1), (65, 100, 25, 2), (30, 20, 40, 3)])
def test_lossFun_matches_step_by_step_reference(V, H, T, seed):
    assert_matches_reference(*make_case(V, H, T, seed=seed))


def test_lossFun_matches_reference_when_clipping_bites():
    # Many steps over a small vocabulary with saturated hidden units: dWhy, dby and dbh
    # add up past 5, while a small Whh keeps the recurrence well conditioned.
    inputs, targets, hprev, params = make_case(V=5, H=20, T=80, scale=0.3, seed=5)
    params["Wxh"] *= 10
    got = assert_matches_reference(inputs, targets, hprev, params)
    clipped = [np.mean(np.abs(g) == 5) for g in got[1:6]]
    assert max(clipped) > 0.05, "the case must actually clip"
    assert all(np.abs(g).max() <= 5 for g in got[1:6])


def test_lossFun_repeated_characters_accumulate_dWxh():
    # the same input index at several steps: its dWxh column sums every step's contribution
    inputs, targets, hprev, params = make_case(V=4, H=6, T=12, seed=7)
    assert_matches_reference(np.array([2, 2, 1, 2, 0, 2, 2, 3, 2, 2, 1, 2]), targets, hprev, params)


def test_lossFun_numerical_gradient():
    inputs, targets, hprev, params = make_case(V=8, H=6, T=10, scale=0.3, seed=11)
    _, *grads, _ = m.lossFun(inputs, targets, hprev, params)
    assert max(np.abs(g).max() for g in grads) < 5, "must be the unclipped regime"
    eps = 1e-5
    for name, g in zip(m.PARAM_NAMES, grads):
        for idx in np.ndindex(g.shape):
            p = {k: v.copy() for k, v in params.items()}
            p[name][idx] += eps
            up = m.lossFun(inputs, targets, hprev, p)[0]
            p[name][idx] -= 2 * eps
            down = m.lossFun(inputs, targets, hprev, p)[0]
            num = (up - down) / (2 * eps)
            assert abs(num - g[idx]) <= 1e-6 * max(1.0, abs(num)), (name, idx, num, g[idx])


def test_lossFun_is_a_sum_of_negative_log_probabilities():
    # all-zero weights: every p_t is uniform, so the loss is T * log(V) exactly
    V, H, T = 9, 5, 14
    params = {k: np.zeros_like(v) for k, v in m.init_params(V, H, np.random.default_rng(0)).items()}
    loss = m.lossFun(np.arange(T) % V, (np.arange(T) + 1) % V, np.zeros((H, 1)), params)[0]
    assert loss == pytest.approx(T * np.log(V), rel=1e-12)


def test_lossFun_leaves_inputs_alone_and_is_stable():
    inputs, targets, hprev, params = make_case(V=10, H=8, T=6, seed=4)
    before = {k: v.copy() for k, v in params.items()}
    h0 = hprev.copy()
    m.lossFun(inputs, targets, hprev, params)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    np.testing.assert_array_equal(hprev, h0)
    # scores of 1e4: a naive exp overflows, the shifted softmax does not
    params["Why"] = params["Why"] * 1e5
    out = m.lossFun(inputs, targets, hprev, params)
    assert np.isfinite(out[0]) and all(np.isfinite(g).all() for g in out[1:])


def test_greedy_is_the_argmax_path_and_leaves_rng_alone():
    _, _, h, params = make_case(V=12, H=10, T=1, scale=0.8, seed=8)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    got = m.sample(h, 3, 60, params, strategy="greedy", rng=rng)
    assert got == greedy_ref(h, 3, 60, params)
    assert rng.bit_generator.state == state
    assert m.sample(h, 3, 60, params, strategy="greedy", temperature=0.3) == got  # rng=None is fine


def first_step_probabilities(h, seed_ix, params, temperature):
    x = np.zeros((params["Wxh"].shape[1], 1))
    x[seed_ix] = 1
    h1 = np.tanh(params["Wxh"] @ x + params["Whh"] @ h + params["bh"])
    y = (params["Why"] @ h1 + params["by"]).ravel() / temperature
    p = np.exp(y - y.max())
    return p / p.sum()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_multinomial_frequencies_follow_softmax_over_temperature(temperature):
    _, _, h, params = make_case(V=6, H=5, T=1, scale=1.0, seed=9)
    p = first_step_probabilities(h, 2, params, temperature)
    rng = np.random.default_rng(42)
    N = 20000
    counts = np.bincount([m.sample(h, 2, 1, params, temperature=temperature, rng=rng)[0]
                          for _ in range(N)], minlength=6)
    sigma = np.sqrt(N * p * (1 - p))
    assert np.all(np.abs(counts - N * p) <= 4.5 * sigma + 1), (counts, N * p)
    # the temperature must matter: these probabilities are far from the T=1 ones
    if temperature != 1.0:
        assert np.abs(p - first_step_probabilities(h, 2, params, 1.0)).max() > 0.05


def test_sample_is_reproducible_and_follows_the_recurrence():
    _, _, h, params = make_case(V=7, H=6, T=1, scale=1.0, seed=10)
    a = m.sample(h, 1, 50, params, rng=np.random.default_rng(5))
    b = m.sample(h, 1, 50, params, rng=np.random.default_rng(5))
    assert a == b and len(a) == 50 and all(0 <= i < 7 for i in a)
    # at a temperature near zero, multinomial becomes greedy
    assert m.sample(h, 1, 50, params, temperature=1e-6, rng=np.random.default_rng(5)) == \
        greedy_ref(h, 1, 50, params)


def test_sample_rejects_bad_arguments():
    _, _, h, params = make_case()
    with pytest.raises(ValueError):
        m.sample(h, 0, 5, params, strategy="beam")
    for temperature in (0, -1.0):
        with pytest.raises(ValueError):
            m.sample(h, 0, 5, params, temperature=temperature)


def test_adagrad_update_matches_formula():
    _, _, _, params = make_case(V=9, H=4, seed=12)
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
    for k, g in zip(m.PARAM_NAMES, grads):
        m.adagrad_update(params[k], g, mem[k], 0.1)

    for got_p, got_m in ((params, mem), (flat_params, flat_mem)):
        for k in params:
            np.testing.assert_allclose(got_m[k], want_m[k], rtol=1e-15)
            np.testing.assert_allclose(got_p[k], want_p[k], rtol=1e-13)


def test_flat_views_are_views_with_the_shapes():
    _, _, _, params = make_case(V=9, H=4, seed=13)
    vec, views = m.flat_views(params)
    assert vec.shape == (sum(v.size for v in params.values()),)
    for k in m.PARAM_NAMES:
        np.testing.assert_array_equal(views[k], params[k])
    vec += 1  # writing the vector changes every view, and not the original arrays
    for k in m.PARAM_NAMES:
        np.testing.assert_array_equal(views[k], params[k] + 1)
    views["by"][2, 0] = 7.0
    assert vec[-params["by"].size + 2] == 7.0


def test_build_vocab_is_sorted_and_maps_every_character():
    text = "héllo, wörld\nzebra ABC é"
    chars, data = m.build_vocab(text)
    assert chars == sorted(set(text))
    assert [chars[i] for i in data] == list(text)

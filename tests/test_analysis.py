"""analysis.py on small cases, each against an independent computation: the gradient flow
by finite differences of the cells' own forward pass, loop detection on made-up periodic
texts, the word statistics on hand-made samples, the model's view of its own text step by
step, and the small helpers against hand-computed numbers."""
import math

import numpy as np
import pytest

import analysis as a
import min_char_rnn as m
from charrnn.model import cell_module


CELLS = ["rnn", "lstm", "gru"]


def random_params(cell_name, V, H, seed=0):
    """Weights large enough that no gradient vanishes on a short window, biases nonzero."""
    rng = np.random.default_rng(seed)
    params = cell_module(cell_name).init_params(V, H, rng)
    return {k: rng.standard_normal(v.shape) * 0.6 for k, v in params.items()}


def loss_from_state(cell, params, state, ixs, target):
    """-log p(target) after feeding ixs from state, by the cell module's own forward pass."""
    h = m.advance(state[:, None], list(ixs), params, cell)
    H = params["Why"].shape[1]
    y = params["Why"] @ h[:H] + params["by"]
    y = y.ravel() - y.max()
    return float(np.log(np.exp(y).sum()) - y[target])


@pytest.mark.parametrize("cell_name", CELLS)
def test_state_gradients_match_finite_differences(cell_name):
    V, H, T, K, B = 5, 3, 9, 6, 2
    cell = cell_module(cell_name)
    params = random_params(cell_name, V, H)
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, V, size=(T, B))
    targets = rng.integers(0, V, size=B)
    grads = a.state_gradients(cell_name, params, inputs, targets, K)
    S = 2 * H if cell_name == "lstm" else H
    assert grads.shape == (K + 1, B, S)
    eps = 1e-6
    for b in range(B):
        for k in range(K + 1):
            # state_{t-k} is the state after input T-1-k; the k inputs after it lead to t
            state = m.advance(cell.zero_state(H), list(inputs[:T - k, b]), params, cell).ravel()
            rest = inputs[T - k:, b]
            fd = np.empty(S)
            for j in range(S):
                up, down = state.copy(), state.copy()
                up[j] += eps
                down[j] -= eps
                fd[j] = (loss_from_state(cell, params, up, rest, targets[b])
                         - loss_from_state(cell, params, down, rest, targets[b])) / (2 * eps)
            np.testing.assert_allclose(grads[k, b], fd, rtol=1e-5, atol=1e-8,
                                       err_msg=f"{cell_name} k={k} stream {b}")
    assert np.abs(grads[K]).max() > 1e-6  # the comparison was not of zeros


def test_state_gradients_need_a_long_enough_window():
    params = random_params("rnn", 4, 3)
    with pytest.raises(ValueError):
        a.state_gradients("rnn", params, np.zeros((5, 1), dtype=int), np.zeros(1, dtype=int), 5)


def test_vanilla_gradient_shrinks_like_the_product_of_jacobians():
    # with tiny weights tanh is linear, so each step back multiplies by Whh^T: the norm of
    # Whh^T^k g falls at the rate of Whh's largest singular values
    rng = np.random.default_rng(3)
    V, H = 6, 8
    params = {"Wxh": rng.standard_normal((H, V)) * 1e-4, "Whh": np.diag(np.full(H, 0.5)),
              "Why": rng.standard_normal((V, H)), "bh": np.zeros((H, 1)), "by": np.zeros((V, 1))}
    inputs = rng.integers(0, V, size=(30, 4))
    grads = a.state_gradients("rnn", params, inputs, rng.integers(0, V, size=4), 20)
    norms = np.linalg.norm(grads, axis=2)
    np.testing.assert_allclose(norms[1:] / norms[:-1], 0.5, rtol=1e-6)
    k = np.arange(21)
    assert a.decay_per_step(k, a.geometric_mean(norms, axis=1), 0, 20) == pytest.approx(0.5, rel=1e-6)


def test_windows():
    data = np.arange(20)
    inputs, targets = a.windows(data, [5, 9], 3)
    assert inputs.tolist() == [[3, 7], [4, 8], [5, 9]]
    assert targets.tolist() == [6, 10]


def test_find_loop_on_made_up_periodic_texts():
    assert a.find_loop("abcd" + "xyz" * 10) == (4, 3)
    # the loop starts where the text first agrees with itself one period on: 'z' at 2
    assert a.find_loop("abz" + "xyz" * 10) == (2, 3)
    # the space before the loop already agrees with the loop's last character
    assert a.find_loop("the king is dead. " + "long live the king, " * 5) == (17, 20)
    assert a.find_loop("x" * 50) == (0, 1)  # a multiple of the period never wins
    assert a.find_loop("lorem ipsum dolor sit amet, consectetur adipiscing elit") is None
    assert a.find_loop("no loop at the end...   ") is None  # too short to be a loop
    assert a.find_loop("ab" + "xyz" * 2 + "!", min_repeats=2, min_length=1) is None
    assert a.find_loop("abc" * 2, min_repeats=2, min_length=1) == (0, 3)


def test_word_statistics_on_a_hand_made_sample():
    sample = "The cat, the cat! O'er the hill: zzq cat"
    ws = a.words(sample)
    assert ws == ["the", "cat", "the", "cat", "o'er", "the", "hill", "zzq", "cat"]
    assert a.known_word_share(ws, {"the", "cat", "hill", "o'er"}) == pytest.approx(8 / 9)
    assert a.distinct_ngram_share(ws, 4) == 1.0  # six 4-grams, all different
    loop = a.words("to be or not " * 3)  # 12 words, 9 four-grams, 4 distinct
    assert a.distinct_ngram_share(loop, 4) == pytest.approx(4 / 9)
    assert math.isnan(a.distinct_ngram_share(["a", "b"], 4))
    assert math.isnan(a.known_word_share([], {"a"}))


def test_rank_samples_by_known_words():
    vocab = set(a.words("the king is dead long live the king and queen"))
    samples = [("short", "the king"),  # too few words: left out
               ("half", "the king is zorp glab dead long live the xx"),
               ("all", "the king is dead long live the king is dead"),
               ("all, more distinct", "long live the queen and the king is dead")]
    ranked = a.rank_samples(samples, vocab, min_words=5)
    assert [r[0] for r in ranked] == ["all, more distinct", "all", "half"]
    assert [r[2:] for r in ranked] == [(1.0, 8, 9), (1.0, 6, 10), (0.7, 6, 10)]


@pytest.mark.parametrize("cell_name", CELLS)
def test_self_bits_per_char_step_by_step(cell_name):
    V, H = 5, 4
    cell = cell_module(cell_name)
    params = random_params(cell_name, V, H, seed=2)
    ixs = np.random.default_rng(4).integers(0, V, size=30)
    n_given = 4
    h, total = cell.zero_state(H), 0.0
    for i in range(len(ixs) - 1):
        h = m.advance(h, [ixs[i]], params, cell)
        if i >= n_given - 1:  # predicts ixs[i + 1], a generated character
            y = (params["Why"] @ h[:H] + params["by"]).ravel()
            total += -(y[ixs[i + 1]] - np.log(np.exp(y).sum())) / math.log(2)
    want = total / (len(ixs) - n_given)
    assert a.self_bits_per_char(cell, params, ixs, n_given) == pytest.approx(want, rel=1e-10)


def test_update_sizes_and_moved_share():
    zero = {q: np.zeros((2, 3)) for q in a.PARAM_NAMES}
    one = {q: v + 0.1 for q, v in zero.items()}
    two = {q: v.copy() for q, v in one.items()}
    two["Whh"][0, 0] += 0.6  # one of six entries moves 0.6 more
    sizes = a.update_sizes([zero, one, two])
    np.testing.assert_allclose(sizes[0], 0.1)
    np.testing.assert_allclose(sizes[1], [0, 0.1, 0, 0, 0])
    np.testing.assert_allclose(a.mean_abs_update([zero, one, two]), [0.1, 0.6 / 30])
    assert a.moved_share(zero, one, 0.05) == 1.0
    assert a.moved_share(one, two, 0.05) == pytest.approx(1 / 30)


def test_window_mean_and_curves():
    it = [0, 1, 2, 3, 4]
    assert a.window_mean(it, [1, 2, 3, 4, 5], 1, 3) == 2.5
    assert math.isnan(a.window_mean(it, [1, 2, 3, 4, 5], 7, 9))
    assert a.curve_summary([0, 100, 200, 300], [5.0, 3.0, 4.0, 3.0]) == (3.0, 3.0, 100)
    assert a.spread([1, 2, 3]) == (2.0, 1.0, 1.0, 3.0)
    assert a.bits_per_char(25 * math.log(2), 25) == pytest.approx(1.0)
    assert a.geometric_mean([1, 100]) == pytest.approx(10)


def test_clip_shares():
    shares = a.clip_shares(["", "Whh", "Whh Why", "", "bh Whh"])
    assert shares == {"Wxh": 0, "Whh": 0.6, "Why": 0.2, "bh": 0.2, "by": 0, "any": 0.6}


@pytest.mark.parametrize("cell_name", CELLS)
def test_parameter_counts_match_the_cells_own_weights(cell_name):
    V, H = 7, 5
    params = cell_module(cell_name).init_params(V, H, np.random.default_rng(0))
    n = sum(p.size for p in params.values())
    if cell_name == "rnn":
        assert a.rnn_parameters(V, H) == n
    if cell_name == "lstm":
        assert a.lstm_parameters(V, H) == n
    # a fully-connected network 4 -> 3 -> 2: (4 * 3 + 3) + (3 * 2 + 2) by hand
    assert a.fc_parameters([4, 3, 2]) == 23


def test_matching_hidden_size_is_the_nearest_count():
    V, H = 76, 100
    lstm = sum(p.size for p in cell_module("lstm").init_params(V, H, np.random.default_rng(0)).values())
    counts = {h: sum(p.size for p in m.init_params(V, h, np.random.default_rng(0)).values())
              for h in range(200, 230)}
    best = min(counts, key=lambda h: abs(counts[h] - lstm))
    assert a.matching_hidden_size(V, H) == best == 214


def test_context_bits_step_by_step():
    V, H = 6, 4
    params = random_params("rnn", V, H)
    rng = np.random.default_rng(3)
    data = rng.integers(0, V, size=40)
    ends, length = np.array([10, 20, 30]), 5
    want = 0.0
    for e in ends:  # read the context from a zero state, score the character after it
        want += loss_from_state(m, params, np.zeros(H), data[e - length + 1:e + 1], data[e + 1])
    assert a.context_bits(m, params, data, ends, length) == pytest.approx(want / len(ends) / math.log(2))


def test_saturation_and_spectral_radius_by_hand():
    hs = np.array([[0.99, 0.0], [-0.96, 0.5]])
    share, slope = a.saturation(hs)
    assert share == 0.5
    assert slope == pytest.approx(np.mean([1 - 0.99 ** 2, 1, 1 - 0.96 ** 2, 1 - 0.25]))
    # a rotation by 90 degrees scaled by 2: eigenvalues +-2i, radius 2
    assert a.spectral_radius(np.array([[0.0, -2.0], [2.0, 0.0]])) == pytest.approx(2.0)


@pytest.mark.parametrize("cell_name", CELLS)
def test_state_distances_step_by_step(cell_name):
    V, H = 5, 3
    cell = cell_module(cell_name)
    params = random_params(cell_name, V, H)
    S = cell.zero_state(H).shape[0]
    rng = np.random.default_rng(4)
    states, ixs = rng.standard_normal((2, S)) * 0.5, [1, 4, 0, 2]
    got = a.state_distances(cell, params, states, ixs)
    for k in range(1, len(ixs) + 1):
        sa, sb = (m.advance(s[:, None], ixs[:k], params, cell) for s in states)
        assert got[k - 1] == pytest.approx(float(np.linalg.norm(sa - sb)))


def test_loop_summary_value_at_and_clipped_blocks():
    assert a.loop_summary([(10, 4), None, (30, 9), (20, 4)], 100) == (3, 20.0, 4, 9)
    n, start, lo, hi = a.loop_summary([None, None], 100)
    assert n == 0 and math.isnan(start)
    assert a.value_at([0, 10, 20], [5.0, 3.0, 1.0], 15) == pytest.approx(2.0)
    assert math.isnan(a.value_at([0, 10], [1.0, 2.0], 11))
    g = np.array([[0.0], [5.0], [1.0], [-2.0], [-5.0], [0.5]])  # three blocks of two rows
    assert a.clipped_blocks(g, 3).tolist() == [True, False, True]


def test_speakers_and_sample_features_on_a_hand_made_text():
    training = "MACBETH.\nIs this a dagger?\n\nLADY MACBETH.\nAway!\n\n[Exit.]\n"
    assert a.speakers(training) == {"MACBETH", "LADY MACBETH"}
    sample = "MACBETH.\nthe frow\n\nSIR GOBY.\nEnter Romeo [Exeunt.]\n\n"
    real, invented, stage, lines = a.sample_features(sample, a.speakers(training))
    assert real == ["MACBETH"] and invented == ["SIR GOBY"]
    assert stage == ["Enter", "[Exeunt.]"] and lines == 4

"""The long-range text and its recall measure (report_sections/long_range_text.py).

- make_text: every line is key, space, L - 3 filler letters, space, the same key; the same seed
  gives the same text; recall_positions finds the second keys.
- recall_bits against an independent computation: each cell's plain per-step reference
  (tests/reference*.py: step_ref, one-hot columns, softmax_ref), run one stream at a time
  from the run's carried state over the same lines, scoring -log2 p only at the recall
  characters after the warm-up lines.
- A hand-built model whose answer is known: all weights zero predicts every character with
  probability 1/V, so every recall costs log2(V) bits.
"""
import math

import numpy as np
import pytest
import reference
import reference_gru
import reference_lstm

from charrnn.model import cell_module
from report_sections.long_range_text import FILLER, KEYS, make_text, recall_bits, recall_positions


REFS = {"rnn": reference, "lstm": reference_lstm, "gru": reference_gru}


def test_make_text_lines_and_recall_positions():
    L = 9
    text = make_text(L, 500, seed=3)
    assert text == make_text(L, 500, seed=3) and text != make_text(L, 500, seed=4)
    lines = text.split("\n")[:-1]
    assert len(text) >= 500 and len(lines) == math.ceil(500 / (L + 2))
    for line in lines:
        assert len(line) == L + 1 and line[0] == line[L] and line[0] in KEYS
        assert line[1] == line[L - 1] == " " and set(line[2:L - 1]) <= set(FILLER)
    pos = recall_positions(text, L)
    assert [text[p] for p in pos] == [line[0] for line in lines]
    assert all(text[p - L] == text[p] for p in pos)
    assert len({line[0] for line in lines}) == len(KEYS)  # every key is drawn
    with pytest.raises(ValueError):
        recall_positions(text[:-1], L)


def reference_bits(cell, params, chars, text, L, streams, warmup, start):
    """-log2 p(recall character), the plain way: one stream at a time, one step at a time,
    each from the state start."""
    ref = REFS[cell]
    ix = [chars.index(c) for c in text]
    n = len(ix) // streams
    out = []
    for b in range(streams):
        piece = ix[b * n:(b + 1) * n]
        state, bits = start.copy(), []
        for t in range(len(piece) - 1):
            state, y = ref.step_ref(state, piece[t], params)
            if (t + 1) % (L + 2) == L and (t + 1) // (L + 2) >= warmup:  # the next one is a recall
                bits.append(-math.log2(ref.softmax_ref(y)[piece[t + 1], 0]))
        out.append(bits)
    return np.array(out)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recall_bits_matches_the_plain_reference(cell):
    L, streams, warmup = 7, 3, 2
    text = make_text(L, 3 * 5 * (L + 2), seed=11)  # 15 lines: 3 streams of 5, 2 of them warm-up
    chars = sorted(set(text))
    rng = np.random.default_rng(5)
    params = cell_module(cell).init_params(len(chars), 6, rng)
    for k in params:  # weights large enough that the state matters
        params[k] = params[k] * 60 + rng.standard_normal(params[k].shape) * 0.3
    start = rng.standard_normal(cell_module(cell).zero_state(6).shape)  # the run's carried state
    state = {"params": params, "chars": chars, "hparams": {"cell": cell}, "hprev": start}
    got = recall_bits(state, text, L, streams, warmup)
    want = reference_bits(cell, params, chars, text, L, streams, warmup, start)
    assert got.shape == want.shape == (3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert want.std() > 0.1  # the streams and lines differ: the check is not vacuous


def test_recall_bits_of_a_model_that_knows_nothing():
    L = 12
    text = make_text(L, 4 * 20 * (L + 2), seed=1)
    chars = sorted(set(text))
    params = {k: np.zeros_like(v) for k, v in cell_module("lstm").init_params(len(chars), 4,
                                                                              np.random.default_rng(0)).items()}
    state = {"params": params, "chars": chars, "hparams": {"cell": "lstm"}}
    np.testing.assert_allclose(recall_bits(state, text, L, 4, 10), math.log2(len(chars)), rtol=1e-12)
    with pytest.raises(ValueError):
        recall_bits(state, text, L, 3, 10)  # 80 lines do not cut into 3 equal pieces

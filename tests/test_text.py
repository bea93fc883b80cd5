"""The training text (charrnn.text): a file read as training reads it, indexed once into compact
indices, block by block, whatever its encoding; and the held-out streams made a block at a time,
the same as the whole (T, B) arrays they replace."""
import hashlib

import numpy as np
import pytest

from charrnn import text as t
from charrnn.system import UserError


def plain_index(text, chars=None):
    """The plain form: chars = sorted(set(text)); data = [chars.index(c) for c in text]."""
    chars = sorted(set(text)) if chars is None else chars
    return chars, [chars.index(c) for c in text]


TEXTS = {
    "ascii": "the quick brown fox.\nROMEO: what light?\n" * 30,
    "accents": "héllo, wörld\nzebra ABC é œuvre naïve\n" * 40,
    "beyond the BMP": "a 🙂 b 🎭 c\u00e9\u4e2d\u6587\n" * 50,
    "many characters": "".join(chr(c) for c in range(0x4e00, 0x4e00 + 300)) * 3,
}


@pytest.mark.parametrize("name", list(TEXTS))
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1"])
def test_a_corpus_is_its_text_indexed_in_sorted_order(tmp_path, monkeypatch, name, encoding):
    text = TEXTS[name]
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        pytest.skip(f"{name} is not {encoding}")
    monkeypatch.setattr(t, "BLOCK", 37)  # many blocks, a character cut at most block edges
    path = tmp_path / "text.txt"
    path.write_bytes(raw)
    corpus = t.read_corpus(str(path), encoding)
    chars, want = plain_index(text)
    assert corpus.chars == chars
    assert corpus.data.tolist() == want
    assert corpus.data.dtype == (np.uint8 if len(chars) <= 256 else np.uint16)
    assert corpus.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest() == t.text_sha256(text)
    assert t.build_vocab(text)[0] == chars and t.build_vocab(text)[1].tolist() == want
    assert t.read_text(str(path), encoding) == text


def test_a_model_vocabulary_indexes_a_text_of_fewer_characters(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("wörld wide", encoding="utf-8")
    corpus = t.read_corpus(str(path))
    model = sorted(set("héllo, wörld wide\n"))
    t.check_covers(corpus, model, "the model")
    assert t.corpus_indices(corpus, model).tolist() == plain_index("wörld wide", model)[1]
    with pytest.raises(UserError, match="characters it lacks: 'diw'"):
        t.check_covers(corpus, sorted(set("hello, ör")), "the model")
    big = sorted(set(model) | {chr(c) for c in range(0x4e00, 0x4e00 + 300)})  # past uint8
    again = t.read_corpus(str(path))
    got = t.corpus_indices(again, big)
    assert got.dtype == np.uint16 and got.tolist() == plain_index("wörld wide", big)[1]


@pytest.mark.parametrize("block", [5, 8, 25, 1 << 20])
def test_a_bad_byte_is_named_with_its_offset_in_the_file_across_blocks(tmp_path, monkeypatch, block):
    monkeypatch.setattr(t, "BLOCK", block)
    path = tmp_path / "text.txt"
    raw = "abc é def".encode("utf-8") * 5
    path.write_bytes(raw[:30] + b"\xff" + raw[30:])
    with pytest.raises(UserError, match=r"byte 0xff at offset 30\)"):
        t.read_corpus(str(path))
    offset = raw.index("é".encode(), 20)  # 24: a block of 5 ends inside it
    path.write_bytes(raw[:offset + 1] + raw[offset + 2:])  # half of an é: the error is at its first byte
    with pytest.raises(UserError, match=rf"at offset {offset}\)"):
        t.read_corpus(str(path))


def old_heldout_streams(val, streams=t.EVAL_STREAMS, warmup=t.EVAL_WARMUP):
    """The held-out streams as the whole (T, B) arrays: the definition heldout_blocks makes a
    block at a time (as the project computed it before, kept here as the reference)."""
    positions = np.arange(len(val) - 1)  # position i predicts val[i + 1] from val[i]
    pieces = np.array_split(positions, min(streams, len(positions)))
    reads = [np.arange(max(0, piece[0] - warmup), piece[-1] + 1) for piece in pieces]
    inputs = np.zeros((max(map(len, reads)), len(pieces)), dtype=np.intp)
    targets = np.full(inputs.shape, -1, dtype=np.intp)
    for b, (piece, read) in enumerate(zip(pieces, reads)):
        inputs[:len(read), b] = val[read]
        targets[len(read) - len(piece):len(read), b] = val[piece + 1]
    return inputs, targets


@pytest.mark.parametrize("n,streams,warmup,block", [(1000, 100, 100, 64), (2, 100, 100, 64), (57, 7, 3, 5),
                                                    (5000, 100, 100, 64), (333, 10, 0, 1), (250, 1, 100, 64)])
def test_heldout_blocks_are_the_streams_a_block_at_a_time(n, streams, warmup, block):
    val = np.random.default_rng(n).integers(0, 200, n).astype(np.uint8)
    want_inputs, want_targets = old_heldout_streams(val, streams, warmup)
    blocks = list(t.heldout_blocks(val, streams, warmup, block))
    assert all(len(x) <= block and x.dtype == np.intp for x, _ in blocks)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in blocks]), want_inputs)
    np.testing.assert_array_equal(np.concatenate([y for _, y in blocks]), want_targets)
    assert (np.concatenate([y for _, y in blocks]) >= 0).sum() == n - 1  # each character once
    assert list(t.heldout_blocks(val[:1], streams, warmup, block)) == []

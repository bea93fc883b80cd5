"""The training text: reading it (every way that can fail, as one line), indexing it into its
vocabulary once and compactly, its hash, the held-out part and the streams the held-out loss
reads.

A run's text is a Corpus: its sorted vocabulary and the text as indices into it, uint8 where
the vocabulary has at most 256 characters (uint16 up to 65,536), found by a lookup table from
character codes to indices, a block of characters at a time. Reading one takes at most about
3 bytes of memory per byte of the file (the bytes read, the indices, a block's scratch), and
training keeps only the indices.
"""
import codecs
import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from typing import NamedTuple

import numpy as np

from charrnn.system import UserError, available_memory, gib, write_error


CORPUS_MEMORY_PER_BYTE = 3  # at most, while a text is read and indexed (see above)
BLOCK = 1 << 22  # bytes decoded, and characters indexed, at a time
CODE_LIMIT = 0x110000  # every character code is below this
FAST_CODECS = ("utf-8", "ascii", "iso8859-1")  # where a byte below 128 is that character's code


class Corpus(NamedTuple):
    """A text as training reads it."""
    chars: list  # the sorted vocabulary: every distinct character of the text
    data: np.ndarray  # the text as indices into chars
    sha256: str  # of the text in UTF-8 (what a checkpoint records: text_sha256)


def index_dtype(vocab_size):
    """The smallest unsigned integer type that holds every index of a vocabulary."""
    return np.uint8 if vocab_size <= 256 else np.uint16 if vocab_size <= 65536 else np.uint32


def lookup_table(chars):
    """The table from a character code to its index in chars: table[ord(chars[i])] == i."""
    codes = [ord(c) for c in chars]
    table = np.zeros(max(codes) + 1, dtype=index_dtype(len(chars)))
    table[codes] = np.arange(len(chars))
    return table


def codes_of(text):
    """The character codes of a str, as an array."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def build_vocab(text, chars=None):
    """(sorted vocabulary, the text as indices into it) of a str in memory. chars: a model's
    vocabulary to index the text with instead of its own; it must hold every character.

    Plain form: chars = sorted(set(text)); data = [chars.index(c) for c in text].
    """
    codes = codes_of(text)
    if chars is None:
        seen = np.zeros(int(codes.max(initial=0)) + 1, dtype=bool)
        seen[codes] = True  # seen[c]: the character of code c is in the text
        chars = [chr(c) for c in np.flatnonzero(seen)]
    return chars, lookup_table(chars)[codes]


def file_bytes(path, memory_per_byte):
    """The bytes of a text file, every way it can go wrong turned into a UserError; reading
    and indexing it is refused up front where memory_per_byte times its size is not free."""
    if not os.path.exists(path):
        raise UserError(f"input file '{path}' not found")
    if os.path.isdir(path):
        raise UserError(f"'{path}' is a directory, not a text file")
    st = os.stat(path)
    # A pipe (a FIFO, or /dev/stdin fed by one) is read once; a device could be endless
    # (/dev/zero) or wait on a terminal, so only files and pipes are texts.
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise UserError(f"'{path}' is a device or socket, not a text file")
    need, have = memory_per_byte * st.st_size, available_memory()
    if have is not None and need > have:
        raise UserError(f"'{path}' is too large: training on it needs about {gib(need)} of "
                        f"memory, more than the {gib(have)} available")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UserError(f"cannot read '{path}': {e.strerror}") from None
    except MemoryError:  # a pipe has no size to check beforehand
        raise UserError(f"'{path}' does not fit in memory") from None
    if not raw:
        raise UserError(f"'{path}' is empty")
    return raw


def codec_name(encoding):
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UserError(f"unknown encoding '{encoding}'") from None


def decode_error(path, encoding, e, offset):
    """The UserError of bytes that are not valid in the encoding (offset: where e's bytes begin)."""
    if isinstance(e, UnicodeDecodeError):
        return UserError(f"'{path}' is not valid {encoding} (byte 0x{e.object[e.start]:02x} at offset "
                         f"{offset + e.start}); pass --encoding latin-1 (or the file's real encoding)")
    return UserError(f"'{path}' is not valid {encoding} ({e}); pass the file's real --encoding")


def decoded_blocks(path, raw, encoding):
    """The text of raw, as strs of at most BLOCK bytes' worth; a UserError that says how to read
    it where it is not text in that encoding."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0  # characters given so far
    for start in range(0, len(raw), BLOCK):
        pending = len(decoder.getstate()[0])  # bytes the decoder holds from the block before
        try:
            block = decoder.decode(raw[start:start + BLOCK], final=start + BLOCK >= len(raw))
        except UnicodeError as e:  # UnicodeDecodeError, or a codec that fails otherwise (idna)
            raise decode_error(path, encoding, e, start - pending) from None
        try:  # some decoders (utf-7, unicode_escape) can give lone surrogates: not characters
            block.encode("utf-8")
        except UnicodeEncodeError as e:
            raise UserError(f"'{path}' decoded as {encoding} holds a lone surrogate "
                            f"(U+{ord(block[e.start]):04X} at character {done + e.start}), which is "
                            f"not text; check --encoding") from None
        done += len(block)
        yield block


def read_text(path, encoding="utf-8"):
    """The text of a file as one str (for the report and the tools; training reads a Corpus)."""
    raw = file_bytes(path, 6)  # the bytes, and a str of up to 4 bytes per character
    codec_name(encoding)
    text = "".join(decoded_blocks(path, raw, encoding))
    if not text:
        raise UserError(f"'{path}' is empty")
    return text


def read_corpus(path, encoding="utf-8"):
    """The text of a file as training reads it (a Corpus), indexed once, BLOCK at a time."""
    raw = file_bytes(path, CORPUS_MEMORY_PER_BYTE)
    name = codec_name(encoding)
    if name in FAST_CODECS and raw.isascii():  # every byte is its character's code
        codes = np.frombuffer(raw, dtype=np.uint8)
        seen = np.zeros(128, dtype=bool)
        mark_seen(seen, codes)
        chars = [chr(c) for c in np.flatnonzero(seen)]
        return Corpus(chars, indices(lookup_table(chars), [codes], len(codes)),
                      hashlib.sha256(raw).hexdigest())
    # otherwise decode twice: once for the vocabulary and the hash, once for the indices
    seen, sha, n = np.zeros(CODE_LIMIT, dtype=bool), hashlib.sha256(), 0
    for block in decoded_blocks(path, raw, encoding):
        mark_seen(seen, codes_of(block))
        sha.update(block.encode("utf-8"))
        n += len(block)
    if n == 0:
        raise UserError(f"'{path}' is empty")
    chars = [chr(c) for c in np.flatnonzero(seen)]
    blocks = (codes_of(block) for block in decoded_blocks(path, raw, encoding))
    return Corpus(chars, indices(lookup_table(chars), blocks, n), sha.hexdigest())


def mark_seen(seen, codes):
    """seen[c] = True for every code c in codes, BLOCK at a time (an index array becomes one of
    8-byte integers inside NumPy: a block's worth, never the whole text's)."""
    for start in range(0, len(codes), BLOCK):
        seen[codes[start:start + BLOCK]] = True


def indices(table, code_blocks, n):
    """The n indices of the characters whose codes come in code_blocks, through table, BLOCK
    at a time (a block's scratch stays small whatever the text's size)."""
    data, at = np.empty(n, dtype=table.dtype), 0
    for codes in code_blocks:
        for start in range(0, len(codes), BLOCK):
            part = codes[start:start + BLOCK]
            np.take(table, part, out=data[at:at + len(part)])
            at += len(part)
    return data


def check_covers(corpus, chars, whose):
    """Refuse a text with characters that the vocabulary chars of a model (whose) lacks."""
    missing = sorted(set(corpus.chars) - set(chars))
    if missing:
        raise UserError(f"{whose} was trained on a text with another vocabulary: this text has "
                        f"characters it lacks: {''.join(missing)[:20]!r}")


def corpus_indices(corpus, chars):
    """The corpus as indices into chars, a vocabulary that covers it (check_covers): the
    corpus's own indices where the two are the same (the usual case), else remapped in its
    place where the index type allows (the corpus's data is then used up)."""
    if corpus.chars == list(chars):
        return corpus.data
    table = lookup_table(chars)[[ord(c) for c in corpus.chars]]  # own index -> index in chars
    data = corpus.data if table.dtype == corpus.data.dtype else np.empty(len(corpus.data), table.dtype)
    for start in range(0, len(data), BLOCK):
        part = corpus.data[start:start + BLOCK].copy()
        np.take(table, part, out=data[start:start + len(part)])
    return data


def text_sha256(text):
    """The SHA-256 of a str in UTF-8: a Corpus's sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_heldout(data, val_frac):
    """(training part, held-out part) of the text's indices: the last val_frac is held out."""
    n_val = int(len(data) * val_frac)
    return data[:len(data) - n_val], data[len(data) - n_val:]


EVAL_STREAMS = 100  # the held-out text is read as this many streams side by side...
EVAL_WARMUP = 100  # ... each after reading this many characters before its part, unscored
EVAL_BLOCK = 64  # ... and handed to min_char_rnn.heldout_loss this many steps at a time


def heldout_blocks(val, streams=EVAL_STREAMS, warmup=EVAL_WARMUP, block=EVAL_BLOCK):
    """The held-out text as streams for min_char_rnn.heldout_loss: (inputs, targets) blocks of
    shape (at most block, B), time-major, made one block at a time (memory stays bounded for
    any length of text).

    Every character after the first is predicted once: the positions 0 .. len(val) - 2 are cut
    into B contiguous pieces of nearly equal length (the first len % B one longer), each read
    after the warmup characters before it (read, not scored: their target is -1); shorter
    streams are padded at the end (input 0, target -1). The streams start from the state the
    training carries (see charrnn.run.Run.val_line).
    """
    n = len(val) - 1  # positions with a next character
    B = min(streams, n)
    if B < 1:
        return
    size, longer = divmod(n, B)
    piece = np.arange(B)
    first = piece * size + np.minimum(piece, longer)  # each piece's first position
    length = size + (piece < longer)  # and its length
    read_from = np.maximum(0, first - warmup)
    read_length = first + length - read_from
    for t0 in range(0, int(read_length.max()), block):
        t = np.arange(t0, min(t0 + block, int(read_length.max())))[:, None]  # rows of this block
        at = read_from + t  # row t of stream b reads val[read_from[b] + t]
        read = t < read_length
        scored = read & (t >= read_length - length)
        inputs = np.where(read, val[np.minimum(at, n)].astype(np.intp), 0)
        targets = np.where(scored, val[np.minimum(at + 1, n)].astype(np.intp), -1)
        yield inputs, targets


@contextlib.contextmanager
def text_file_for_children(path):
    """A path each child process can read the text from: path itself if it is a regular file;
    for a pipe (a FIFO, /dev/stdin), which can be read only once, a temporary copy of its bytes
    (the same bytes in the same encoding, so the same text hash in every checkpoint)."""
    if stat.S_ISREG(os.stat(path).st_mode):
        yield path
        return
    with tempfile.NamedTemporaryFile("wb", suffix=".txt") as f:
        try:
            with open(path, "rb") as pipe:
                shutil.copyfileobj(pipe, f)
            f.flush()
        except OSError as e:
            raise write_error(f.name, e) from None
        yield f.name

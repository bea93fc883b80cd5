"""The training text: reading it (every way that can fail, as one line), its hash, the
held-out part and the streams the held-out loss reads."""
import contextlib
import hashlib
import os
import stat
import tempfile

import numpy as np

from charrnn.system import UserError, available_memory, gib, write_error
from min_char_rnn import build_vocab


# Measured peak while the text is read and indexed: the bytes, the str, its UTF-32 codes, their
# sorted copy, the int64 indices: about 21 bytes of memory per byte of an ASCII text.
TEXT_MEMORY_PER_BYTE = 21


def read_text(path, encoding="utf-8"):
    """Read the training text, turning every way it can go wrong into a UserError."""
    if not os.path.exists(path):
        raise UserError(f"input file '{path}' not found")
    if os.path.isdir(path):
        raise UserError(f"'{path}' is a directory, not a text file")
    st = os.stat(path)
    # A pipe (a FIFO, or /dev/stdin fed by one) is read once; a device could be endless
    # (/dev/zero) or wait on a terminal, so only files and pipes are texts.
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise UserError(f"'{path}' is a device or socket, not a text file")
    need, have = TEXT_MEMORY_PER_BYTE * st.st_size, available_memory()
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
    return decoded(path, raw, encoding)


def decoded(path, raw, encoding):
    """The bytes of path as text, or a UserError that says how to read them."""
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise UserError(f"unknown encoding '{encoding}'") from None
    except UnicodeDecodeError as e:
        raise UserError(f"'{path}' is not valid {encoding} (byte 0x{raw[e.start]:02x} at offset "
                        f"{e.start}); pass --encoding latin-1 (or the file's real encoding)") from None
    except UnicodeError as e:  # a codec that fails otherwise (punycode, idna)
        raise UserError(f"'{path}' is not valid {encoding} ({e}); pass the file's real --encoding") from None
    if not text:
        raise UserError(f"'{path}' is empty")
    try:  # some decoders (utf-7, unicode_escape) can give lone surrogates: not characters
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UserError(f"'{path}' decoded as {encoding} holds a lone surrogate "
                        f"(U+{ord(text[e.start]):04X} at character {e.start}), which is not text; "
                        f"check --encoding") from None
    return text


def text_sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def index_text(text, chars, whose):
    """The text as indices into a model's vocabulary chars, which must cover it."""
    missing = sorted(set(text) - set(chars))
    if missing:
        raise UserError(f"{whose} was trained on a text with another vocabulary: this text has "
                        f"characters it lacks: {''.join(missing)[:20]!r}")
    return build_vocab(text, chars)[1]


def split_heldout(data, val_frac):
    """(training part, held-out part) of the text's indices: the last val_frac is held out."""
    n_val = int(len(data) * val_frac)
    return data[:len(data) - n_val], data[len(data) - n_val:]


EVAL_STREAMS = 100  # the held-out text is read as this many streams side by side...
EVAL_WARMUP = 100  # ... each after reading this many characters before its part, unscored


def heldout_streams(val, streams=EVAL_STREAMS, warmup=EVAL_WARMUP):
    """The held-out text as (T, B) inputs and targets for min_char_rnn.heldout_loss.

    Every character after the first is predicted once: the text is cut into B contiguous
    pieces of nearly equal length, each read after the warmup characters before it (read, not
    scored: their target is -1); shorter streams are padded at the end with target -1. The
    streams start from the state the training carries (see charrnn.rundir.Run.val_line).
    """
    positions = np.arange(len(val) - 1)  # position i predicts val[i + 1] from val[i]
    pieces = np.array_split(positions, min(streams, len(positions)))
    reads = [np.arange(max(0, piece[0] - warmup), piece[-1] + 1) for piece in pieces]
    inputs = np.zeros((max(map(len, reads)), len(pieces)), dtype=np.intp)
    targets = np.full(inputs.shape, -1, dtype=np.intp)
    for b, (piece, read) in enumerate(zip(pieces, reads)):
        inputs[:len(read), b] = val[read]
        targets[len(read) - len(piece):len(read), b] = val[piece + 1]
    return inputs, targets


@contextlib.contextmanager
def text_file_for_children(path, text):
    """A path each child process can read the text from: path itself if it is a regular file;
    for a pipe (a FIFO, /dev/stdin), which can be read only once, a temporary copy of what the
    parent read, in UTF-8 (the same text, so the same text hash in every checkpoint)."""
    if stat.S_ISREG(os.stat(path).st_mode):
        yield path
        return
    with tempfile.NamedTemporaryFile("wb", suffix=".txt") as f:
        try:
            f.write(text.encode("utf-8"))
            f.flush()
        except OSError as e:
            raise write_error(f.name, e) from None
        yield f.name

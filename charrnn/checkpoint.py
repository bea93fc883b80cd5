"""The checkpoint: the full training state, so that a run continues exactly.

Reloading the weights alone is not enough to continue training: the optimizer's memory, the
state carried between chunks, the data pointer, the iteration count, the smoothed loss and the
random generator are state too. The state is one dict (new_state shows every key at iteration
0); fields(spec) is the one table of the checkpoint's fields, built from the model spec, that
save_checkpoint writes, load_checkpoint reads and checks, and that fills in what a checkpoint
of an older format lacks. This module is the only writer of checkpoints.
"""
import contextlib
import hashlib
import json
import math
import os
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from charrnn.options import FIXED_SINCE, HPARAM_DEFAULTS, option_problem, spec_of
from charrnn.system import UserError, available_memory, gib, write_error


CHECKPOINT_FORMAT = 5  # 5 added the deep mode's options (and, for its runs, the dropout generator
# and Adam's momentum); 4 iters and the closing rows; 3 the run files' SHA-256; 2 cell, val_frac,
# eval_every and val_csv_bytes. Formats 1 to 4 still load.
EMPTY_SHA256 = hashlib.sha256().hexdigest()  # of the first 0 bytes of any file
# The log files of a run directory, each with the field that records its size when the
# checkpoint was written (resume cuts off what came after, so nothing is doubled), the field
# with the SHA-256 of those bytes (resume keeps a file only if it still begins with exactly
# what the checkpoint saw: not, say, re-saved with CRLF line ends), and the field with the
# closing rows that a finished run appends after its last checkpoint (so that a resume to a
# larger --iters cuts them, and a run killed before they were written gets them back).
RUN_FILES = {"loss.csv": ("loss_csv_bytes", "loss_csv_sha256", "loss_csv_closing"),
             "samples.txt": ("samples_txt_bytes", "samples_txt_sha256", None),
             "val.csv": ("val_csv_bytes", "val_csv_sha256", "val_csv_closing")}


class Field(NamedTuple):
    """One field of the checkpoint: its kind (how it is stored and checked), where it lives in
    the state dict (a key, or (key, parameter name) for the dicts of arrays), the format that
    added it, its value in a checkpoint of an older format, and an array's shape and type."""
    kind: str
    place: object
    since: int = 1
    old: object = None
    shape: tuple = ()
    dtype: str = "float64"


# The fields every checkpoint has, whatever its model. None as an old value: not recorded, so
# not checked.
COMMON = {
    "format": Field("format", "format"),
    "p": Field("count", "p"),  # the data pointer
    "n": Field("count", "n"),  # iterations done
    "iters": Field("count", "iters", 4),  # the iterations the run was started for (0: no limit)
    "smooth_loss": Field("loss", "smooth_loss"),
    "rng_state": Field("rng", "rng"),  # the generator of the initial weights and training samples
    "vocab": Field("vocab", "chars"),  # the sorted vocabulary, as character codes
    "text_sha256": Field("sha256", "text_sha256"),
    # the options fixed for the run, state["hparams"] (an older format's run had the default)
    **{k: Field("option", ("hparams", k), FIXED_SINCE[k], default) for k, default in HPARAM_DEFAULTS.items()},
    "loss_csv_bytes": Field("count", "loss_csv_bytes"),
    "samples_txt_bytes": Field("count", "samples_txt_bytes"),
    "val_csv_bytes": Field("count", "val_csv_bytes", 2, 0),
    "loss_csv_sha256": Field("sha256", "loss_csv_sha256", 3), "samples_txt_sha256":
        Field("sha256", "samples_txt_sha256", 3), "val_csv_sha256": Field("sha256", "val_csv_sha256", 3),
    "loss_csv_closing": Field("text", "loss_csv_closing", 4, ""),
    "val_csv_closing": Field("text", "val_csv_closing", 4, ""),
}


def fields(spec):
    """Every field of a checkpoint of the model spec: the weights, what the optimizer keeps of
    each, the carried state, and the common ones."""
    shapes, dtype = spec.param_shapes(), spec.dtype
    deep = {"dropout_rng_state": Field("rng", "dropout_rng", 5)} if spec.deep else {}  # the masks' own
    return {**{k: Field("weights", ("params", k), shape=s, dtype=dtype) for k, s in shapes.items()},
            **{prefix + k: Field("memory", (key, k), shape=s, dtype=dtype)
               for key, prefix in spec.optimizer_slots().items() for k, s in shapes.items()},
            "hprev": Field("carried", "hprev", shape=spec.state_shape(), dtype=dtype),
            **deep, **COMMON}


DROPOUT_STREAM = 1  # the dropout masks' generator: seeded by (--seed, this), apart from the run's own


class Diverged(UserError):
    """Training diverged: its weights or its loss are no longer numbers a run can go on from."""


def new_state(chars, text_sha256, hparams, iters, params=None):
    """Iteration 0 of a run: fresh weights (or a copy of params), zero optimizer memory and
    carried state, the pointer at the start of the text."""
    spec, rng = spec_of(hparams, len(chars)), np.random.default_rng(hparams["seed"])
    model = spec.math()
    if params is not None:
        params = {k: v.astype(spec.dtype) for k, v in params.items()}  # a copy
    elif spec.deep:
        params = model.init_params(rng, hparams["init"])
    else:
        params = model.init_params(len(chars), hparams["hidden_size"], rng)
    deep = {"dropout_rng": np.random.default_rng([hparams["seed"], DROPOUT_STREAM])} if spec.deep else {}
    return {"params": params,
            **{key: {k: np.zeros_like(v) for k, v in params.items()} for key in spec.optimizer_slots()},
            "hprev": np.zeros(spec.state_shape(), dtype=spec.dtype),
            **deep,
            "p": 0,
            "n": 0,
            "iters": iters,
            "smooth_loss": -math.log(1.0 / len(chars)) * hparams["seq_length"],  # the loss at iteration 0
            "rng": rng,
            "chars": chars,
            "text_sha256": text_sha256,
            "hparams": hparams,
            "loss_csv_bytes": 0, "samples_txt_bytes": 0, "val_csv_bytes": 0,
            "loss_csv_sha256": EMPTY_SHA256, "samples_txt_sha256": EMPTY_SHA256,
            "val_csv_sha256": EMPTY_SHA256,
            "loss_csv_closing": "", "val_csv_closing": ""}


def state_value(state, place):
    """What a field's place holds in the state dict."""
    return state[place[0]][place[1]] if isinstance(place, tuple) else state[place]


def field_value(state, field):
    """A field of the checkpoint, as it is stored, from the state dict."""
    if field.kind == "format":
        return CHECKPOINT_FORMAT
    value = state_value(state, field.place)
    if field.kind == "rng":
        return json.dumps(value.bit_generator.state)
    if field.kind == "vocab":
        return np.array([ord(c) for c in value], dtype=np.int32)
    if field.kind == "sha256":
        return value or EMPTY_SHA256  # None (not recorded) only ever for 0 bytes
    return value


def non_finite_field(state):
    """The first field of state that a run cannot continue from (a weight, optimizer memory or
    carried state that is not finite, a negative memory, a bad smoothed loss), or None."""
    spec = spec_of(state["hparams"], len(state["chars"]))
    for name, field in fields(spec).items():
        if field.kind in ("weights", "memory", "carried"):
            a = state_value(state, field.place)
            if not (np.isfinite(a).all() and (field.kind != "memory" or (a >= 0).all())):
                return name
    if not (math.isfinite(state["smooth_loss"]) and state["smooth_loss"] >= 0):
        return "smooth_loss"
    return None


def impossible_state(spec, hprev):
    """Why a carried state cannot come out of the model's cells, or None. Each h is a tanh, or
    a mix of tanhs, so |h| <= 1; an LSTM's h is o * tanh(c) with 0 <= o <= 1, so |h| <= |tanh(c)|
    and of the same sign (allowing for a last bit that another tanh routine may round otherwise)."""
    streams = hprev.reshape(-1, spec.state_size())  # a row per stream
    for h_columns, c_columns in spec.carried_parts():
        h = streams[:, h_columns]
        if c_columns is not None:
            tc = np.tanh(streams[:, c_columns])
            if (np.abs(h) > np.abs(tc) * (1 + 1e-12)).any() or (h * tc < 0).any():
                return ("holds an h larger than tanh(c), or of the other sign, which an LSTM cannot give "
                        "(h = o * tanh(c), 0 <= o <= 1)")
        elif (np.abs(h) > 1).any():
            return "holds a value outside [-1, 1], which the cell cannot give (h is a tanh or a mix of tanhs)"
    return None


def previous_checkpoint_path(path):
    """Where save_checkpoint keeps the checkpoint before the last: if training diverges right
    after a checkpoint, that one holds the state that diverged, and this one is the last good."""
    return path.removesuffix(".npz") + ".previous.npz"


def diverged_checkpoint_path(path):
    """Where a checkpoint whose weights diverged is set aside when there is none before it."""
    return path.removesuffix(".npz") + ".diverged.npz"


def save_checkpoint(path, state):
    """Write state atomically: a temporary file, then a rename over the old checkpoint, which
    stays as the previous one.

    Never writes numbers a run cannot continue from: a diverged state is refused, and the
    checkpoint on disk stays the last good one. A failed write leaves the old file too."""
    bad = non_finite_field(state)
    if bad is not None:
        raise Diverged(f"training diverged: '{bad}' is not finite at iteration {state['n']}")
    spec = spec_of(state["hparams"], len(state["chars"]))
    arrays = {name: field_value(state, field) for name, field in fields(spec).items()}
    tmp, previous = path + ".tmp", previous_checkpoint_path(path)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)  # whatever is there (a link planted to elsewhere, say) is not written through
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):  # the one before stays as the previous one (a hard link: no copy)
            with contextlib.suppress(FileNotFoundError):
                os.remove(previous + ".tmp")  # left by a writer killed right after its link
            os.link(path, previous + ".tmp")
            os.replace(previous + ".tmp", previous)
            with contextlib.suppress(FileNotFoundError):  # the rename does nothing where both are
                os.remove(previous + ".tmp")  # one file already (a kill between the renames)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise write_error(path, e) from None


def drop_diverged(ckpt, saved_n, n):
    """If the checkpoint on disk (of iteration saved_n) is of iteration n, it holds the weights
    whose loss was not finite: put the one before back in its place, or (there was none) set it
    aside."""
    if saved_n != n or not os.path.exists(ckpt):
        return
    try:
        if os.path.exists(previous_checkpoint_path(ckpt)):
            os.replace(previous_checkpoint_path(ckpt), ckpt)
        else:
            os.replace(ckpt, diverged_checkpoint_path(ckpt))
    except OSError as e:
        raise write_error(ckpt, e) from None


def what_is_kept(ckpt):
    """(what a run that stopped on an error leaves to go on from, for its message; whether that
    is a checkpoint)."""
    try:
        with np.load(ckpt) as z:
            n = int(z["n"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        if not os.path.isdir(os.path.dirname(ckpt) or "."):
            return f"the run folder '{os.path.dirname(ckpt)}' is gone, and its checkpoints with it", False
        if os.path.exists(diverged_checkpoint_path(ckpt)):
            return (f"no good checkpoint is left: the only one held the weights that diverged "
                    f"(set aside as '{diverged_checkpoint_path(ckpt)}')"), False
        return "no checkpoint was written yet", False
    return f"the last good checkpoint '{ckpt}' (iteration {n}) is kept", True


def kept_checkpoint(ckpt, resume_command):
    """What a run that stopped on an error (a failed write, say) leaves, and how to go on."""
    kept, is_checkpoint = what_is_kept(ckpt)
    return kept + (f": continue with {resume_command}" if is_checkpoint else "; start the run again")


def diverged_advice(ckpt):
    """What a run that diverged leaves, and the way on that works: the same learning rate from
    the same weights would diverge again, and a folder holds one run."""
    kept, is_checkpoint = what_is_kept(ckpt)
    if is_checkpoint:
        return (f"{kept}, but at this --learning-rate it would diverge again: start a new run with "
                f"a smaller --learning-rate and another --out")
    return f"{kept}: start the run again with a smaller --learning-rate"


# What reset_fields can set to zero, by the state dict's names: the optimizer's memory, the
# carried state, the data pointer (the report's ablation of what --init-from resets).
RESETTABLE = ("mem", "hprev", "p")


def reset_fields(path, names):
    """Set the named parts of the checkpoint in path (names from RESETTABLE) to zero and save
    it again, every other field as it was: one piece of what --init-from resets, alone."""
    state = load_checkpoint(path)
    for name in names:
        if name not in RESETTABLE:
            raise ValueError(f"cannot reset {name!r}: one of {', '.join(RESETTABLE)}")
        value = state[name]
        state[name] = ({k: np.zeros_like(v) for k, v in value.items()} if isinstance(value, dict)
                       else np.zeros_like(value) if isinstance(value, np.ndarray) else 0)
    save_checkpoint(path, state)


def read_npz(path):
    """Every array of an .npz file, by name.

    Each member's header is read first and checked against the bytes the member really
    holds, so a header that claims terabytes is refused before anything is allocated.
    """
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        for info in infos:
            name = info.filename.removesuffix(".npy")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ValueError(f"member '{name}' has array format {version}")
                shape, _, dtype = read_header(f)
                held = info.file_size - f.tell()
            if dtype.hasobject or math.prod(shape) * dtype.itemsize != held:
                raise UserError(f"checkpoint '{path}' is corrupt: field '{name}' claims shape "
                                f"{shape} of {dtype}, but holds {held} bytes")
        need, have = sum(info.file_size for info in infos), available_memory()
        if have is not None and need > have:
            raise UserError(f"checkpoint '{path}' needs {gib(need)} of memory to load, "
                            f"more than the {gib(have)} available")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def checkpoint_iteration(path):
    """The iteration a checkpoint is at, read cheaply (field n alone), or 0 where it cannot be
    read: for progress estimates only, never to train from."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return int(z["n"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return 0


def load_checkpoint(path):
    """Read a checkpoint back into the state dict that save_checkpoint wrote.

    Every field is checked (type, shape, range, finiteness) before it is used, so a damaged,
    hand-edited or foreign file is refused in one line that names the field.
    """
    if os.path.isfile(os.path.join(path, "checkpoint.npz")):
        raise UserError(f"'{path}' is a run folder: give its checkpoint, "
                        f"'{os.path.join(path, 'checkpoint.npz')}'")
    if not os.path.isfile(path):
        raise UserError(f"no checkpoint at '{path}'")
    try:
        open(path, "rb").close()
    except OSError as e:
        raise UserError(f"cannot read checkpoint '{path}': {e.strerror}") from None
    if not zipfile.is_zipfile(path):
        raise UserError(f"'{path}' is not a checkpoint (one is the checkpoint.npz of a run folder), "
                        f"or it is corrupt or truncated")
    try:
        arrays = read_npz(path)
    except UserError:
        raise
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, zlib.error,
            RuntimeError, NotImplementedError) as e:  # (zipfile: encrypted, unknown compression)
        raise UserError(f"checkpoint '{path}' is corrupt or truncated ({type(e).__name__}: {e})") from None
    return CheckedFields(path, arrays).state()


SCALAR_KINDS = {"format": "iu", "count": "iu", "loss": "iuf", "rng": "U", "sha256": "U", "text": "U"}
KIND_NAMES = {"iu": "an integer", "iuf": "a number", "U": "a string"}


class CheckedFields:
    """The fields of a checkpoint's arrays, each checked as the run will use it; what an older
    format lacks is its field's old value."""

    def __init__(self, path, arrays):
        self.path, self.arrays, self.format = path, arrays, None
        fmt = self.scalar("format", COMMON["format"])
        if fmt not in range(1, CHECKPOINT_FORMAT + 1):
            raise UserError(f"checkpoint '{path}' has format {fmt}, "
                            f"this script reads formats 1 to {CHECKPOINT_FORMAT}")
        self.format = fmt

    def corrupt(self, name, why):
        return UserError(f"checkpoint '{self.path}' is corrupt: field '{name}' {why}")

    def scalar(self, name, field, kinds=None):
        """A scalar field, of one of kinds (dtype kinds), or its old value where its format lacks it."""
        if self.format is not None and self.format < field.since:
            return field.old
        a = self.arrays.get(name)
        if a is None:
            raise self.corrupt(name, "is missing")
        kinds = kinds or SCALAR_KINDS[field.kind]
        if a.shape != () or a.dtype.kind not in kinds:
            raise self.corrupt(name, f"is {a.dtype} of shape {a.shape}, not {KIND_NAMES[kinds]}")
        return a.item()

    def value(self, name, field):
        """A scalar field, checked by its kind."""
        v = self.scalar(name, field)
        if field.kind == "count" and v is not None and not v >= 0:
            raise self.corrupt(name, f"is {v}, must be >= 0")
        if field.kind == "sha256" and v is not None and not (
                len(v) == 64 and all(c in "0123456789abcdef" for c in v)):
            raise self.corrupt(name, "is not a SHA-256 in hex")
        return float(v) if field.kind == "loss" else v

    def option(self, name, field):
        default = HPARAM_DEFAULTS[name]
        v = type(default)(self.scalar(name, field, {int: "iu", float: "iuf", str: "U"}[type(default)]))
        why = option_problem(name, v)
        if why:
            raise self.corrupt(name, f"is {v!r}: {why}")
        return v

    def chars(self):
        vocab = self.arrays.get("vocab")
        if vocab is None or vocab.dtype.kind not in "iu" or vocab.ndim != 1 or not len(vocab):
            raise self.corrupt("vocab", "is not a list of character codes")
        vocab = vocab.astype(np.int64)
        if (not ((vocab >= 0) & (vocab <= 0x10FFFF) & ((vocab < 0xD800) | (vocab > 0xDFFF))).all()
                or not (np.diff(vocab) > 0).all()):
            raise self.corrupt("vocab", "is not a sorted list of distinct Unicode characters")
        return [chr(c) for c in vocab]

    def rng(self, name, field):
        try:
            bit_generator = np.random.PCG64()
            bit_generator.state = json.loads(self.scalar(name, field))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
            raise self.corrupt(name, f"is not a PCG64 state ({type(e).__name__}: {e})") from None
        return np.random.Generator(bit_generator)

    def array(self, name, field):
        a = self.arrays.get(name)
        if a is None:
            raise self.corrupt(name, "is missing")
        if a.dtype != np.dtype(field.dtype) or a.shape != field.shape:
            raise self.corrupt(name, f"is {a.dtype} of shape {a.shape}, expected {field.dtype} of shape "
                                     f"{field.shape}")
        return a

    def read(self, name, field):
        """The value of one field, checked."""
        if field.kind in ("weights", "memory", "carried"):
            return self.array(name, field)
        if field.kind == "rng":
            return self.rng(name, field)
        return self.value(name, field)

    def state(self):
        """The state dict of the checkpoint, as new_state makes it."""
        hparams = {k: self.option(k, COMMON[k]) for k in HPARAM_DEFAULTS}
        chars = self.chars()
        spec = spec_of(hparams, len(chars))
        state = {"hparams": hparams, "chars": chars}
        for name, field in fields(spec).items():
            if field.kind in ("format", "option", "vocab"):
                continue
            value = self.read(name, field)
            if isinstance(field.place, tuple):
                state.setdefault(field.place[0], {})[field.place[1]] = value
            else:
                state[field.place] = value
        bad = non_finite_field(state)
        if bad is not None:
            raise self.corrupt(bad, "holds numbers a run cannot continue from (not finite, or a "
                                    "negative optimizer memory)")
        why = impossible_state(spec, state["hprev"])
        if why:
            raise self.corrupt("hprev", why)
        return state

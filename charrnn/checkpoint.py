"""The checkpoint: the full training state, so that a run continues exactly.

Reloading the weights alone is not enough to continue training: the Adagrad memories, the
hidden state carried between chunks, the data pointer, the iteration count, the smoothed loss
and the random generator are state too. new_state shows every field of that state at
iteration 0; FIELDS says how each is saved, read back, checked, and filled in for a
checkpoint of an older format.
"""
import contextlib
import hashlib
import json
import math
import os
import zipfile
import zlib

import numpy as np

from charrnn.cells import cell_module, param_shapes
from charrnn.options import HPARAM_DEFAULTS, option_problem
from charrnn.system import UserError, available_memory, gib, write_error
from charrnn.text import text_sha256
from min_char_rnn import PARAM_NAMES


CHECKPOINT_FORMAT = 4  # 4 added iters and the closing rows; 3 the run files' SHA-256; 2 cell,
# val_frac, eval_every and val_csv_bytes. Formats 1 to 3 still load.
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

# Every field: (kind, the format that added it, its value in a checkpoint of an older format).
# The kind says where it lives in the state dict and how it is checked (see READERS).
FIELDS = {
    "format": ("format", 1, None),
    **{k: ("weights", 1, None) for k in PARAM_NAMES},  # state["params"][k]
    **{"m" + k: ("memory", 1, None) for k in PARAM_NAMES},  # Adagrad's, state["mem"][k]
    "hprev": ("carried", 1, None),  # the state carried into the next chunk
    "p": ("count", 1, None),  # the data pointer
    "n": ("count", 1, None),  # iterations done
    "iters": ("count", 4, None),  # the iterations the run was started for (0: no limit)
    "smooth_loss": ("loss", 1, None),
    "rng_state": ("rng", 1, None),  # state["rng"], the generator of the training samples
    "vocab": ("vocab", 1, None),  # state["chars"], as character codes
    "text_sha256": ("sha256", 1, None),
    # the options fixed for the run, state["hparams"]; a format-1 run is a vanilla one
    # without a held-out part
    **{k: ("option", 2 if k in ("cell", "val_frac", "eval_every") else 1,
           "rnn" if k == "cell" else 0.0 if k == "val_frac" else default)
       for k, default in HPARAM_DEFAULTS.items()},
    "loss_csv_bytes": ("count", 1, None), "samples_txt_bytes": ("count", 1, None),
    "val_csv_bytes": ("count", 2, 0),
    # None: not recorded, so not checked
    "loss_csv_sha256": ("sha256", 3, None), "samples_txt_sha256": ("sha256", 3, None),
    "val_csv_sha256": ("sha256", 3, None),
    "loss_csv_closing": ("text", 4, ""), "val_csv_closing": ("text", 4, ""),
}


class Diverged(UserError):
    """Training diverged: its weights or its loss are no longer numbers a run can go on from."""


def new_state(chars, text, hparams, iters, params=None):
    """Iteration 0 of a run: fresh weights (or a copy of params), zero Adagrad memory and state."""
    rng = np.random.default_rng(hparams["seed"])
    V, H = len(chars), hparams["hidden_size"]
    cell = cell_module(hparams["cell"])
    params = cell.init_params(V, H, rng) if params is None else {k: v.copy() for k, v in params.items()}
    return {"params": params,
            "mem": {k: np.zeros_like(v) for k, v in params.items()},
            "hprev": cell.zero_state(H),
            "p": 0,
            "n": 0,
            "iters": iters,
            "smooth_loss": -math.log(1.0 / V) * hparams["seq_length"],  # the loss at iteration 0
            "rng": rng,
            "chars": chars,
            "text_sha256": text_sha256(text),
            "hparams": hparams,
            "loss_csv_bytes": 0, "samples_txt_bytes": 0, "val_csv_bytes": 0,
            "loss_csv_sha256": EMPTY_SHA256, "samples_txt_sha256": EMPTY_SHA256,
            "val_csv_sha256": EMPTY_SHA256,
            "loss_csv_closing": "", "val_csv_closing": ""}


def field_value(state, name, kind):
    """A field of the checkpoint, from the state dict."""
    if kind == "format":
        return CHECKPOINT_FORMAT
    if kind == "weights":
        return state["params"][name]
    if kind == "memory":
        return state["mem"][name[1:]]
    if kind == "option":
        return state["hparams"][name]
    if kind == "rng":
        return json.dumps(state["rng"].bit_generator.state)
    if kind == "vocab":
        return np.array([ord(c) for c in state["chars"]], dtype=np.int32)
    if kind == "sha256":
        return state[name] or EMPTY_SHA256  # None (not recorded) only ever for 0 bytes
    return state[name]


def non_finite_field(state):
    """The first field of state that a run cannot continue from (a weight, Adagrad memory or
    carried state that is not finite, a negative memory, a bad smoothed loss), or None."""
    for k in PARAM_NAMES:
        if not np.isfinite(state["params"][k]).all():
            return k
    for k in PARAM_NAMES:
        m = state["mem"][k]
        if not (np.isfinite(m).all() and (m >= 0).all()):
            return "m" + k
    if not np.isfinite(state["hprev"]).all():
        return "hprev"
    if not (math.isfinite(state["smooth_loss"]) and state["smooth_loss"] >= 0):
        return "smooth_loss"
    return None


def impossible_state(cell, hprev):
    """Why a carried state cannot come out of the cell, or None. h (the first H rows) is a tanh,
    or a mix of tanhs, so |h| <= 1; the LSTM's h is o * tanh(c) with 0 <= o <= 1, so
    |h| <= |tanh(c)| (allowing for a last bit that another tanh routine may round otherwise)."""
    if cell == "lstm":
        h, c = np.split(hprev.ravel(), 2)
        if (np.abs(h) > np.abs(np.tanh(c)) * (1 + 1e-12)).any() or (h * np.tanh(c) < 0).any():
            return ("holds an h larger than tanh(c), or of the other sign, which an LSTM cannot give "
                    "(h = o * tanh(c), 0 <= o <= 1)")
    elif (np.abs(hprev) > 1).any():
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
    arrays = {name: field_value(state, name, kind) for name, (kind, _, _) in FIELDS.items()}
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
    """The fields of a checkpoint's arrays, each checked as the run will use it, and upgraded
    from an older format by FIELDS."""

    def __init__(self, path, arrays):
        self.path, self.arrays = path, arrays
        fmt = self.scalar("format", "iu")
        if fmt not in range(1, CHECKPOINT_FORMAT + 1):
            raise UserError(f"checkpoint '{path}' has format {fmt}, "
                            f"this script reads formats 1 to {CHECKPOINT_FORMAT}")
        self.upgraded = {name: old for name, (_, since, old) in FIELDS.items() if fmt < since}

    def corrupt(self, field, why):
        return UserError(f"checkpoint '{self.path}' is corrupt: field '{field}' {why}")

    def scalar(self, name, kinds):
        if name in getattr(self, "upgraded", {}):
            return self.upgraded[name]
        a = self.arrays.get(name)
        if a is None:
            raise self.corrupt(name, "is missing")
        if a.shape != () or a.dtype.kind not in kinds:
            raise self.corrupt(name, f"is {a.dtype} of shape {a.shape}, not {KIND_NAMES[kinds]}")
        return a.item()

    def value(self, name):
        """The field name, checked by its kind."""
        kind = FIELDS[name][0]
        v = self.scalar(name, SCALAR_KINDS[kind]) if kind in SCALAR_KINDS else None
        if kind == "count" and v is not None and not v >= 0:
            raise self.corrupt(name, f"is {v}, must be >= 0")
        if kind == "sha256" and v is not None and not (
                len(v) == 64 and all(c in "0123456789abcdef" for c in v)):
            raise self.corrupt(name, "is not a SHA-256 in hex")
        return float(v) if kind == "loss" else v

    def option(self, name):
        default = HPARAM_DEFAULTS[name]
        v = type(default)(self.scalar(name, {int: "iu", float: "iuf", str: "U"}[type(default)]))
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

    def rng(self):
        try:
            bit_generator = np.random.PCG64()
            bit_generator.state = json.loads(self.scalar("rng_state", "U"))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
            raise self.corrupt("rng_state", f"is not a PCG64 state ({type(e).__name__}: {e})") from None
        return np.random.Generator(bit_generator)

    def array(self, name, shape):
        a = self.arrays.get(name)
        if a is None:
            raise self.corrupt(name, "is missing")
        if a.dtype != np.float64 or a.shape != shape:
            raise self.corrupt(name, f"is {a.dtype} of shape {a.shape}, expected float64 of shape {shape}")
        return a

    def state(self):
        """The state dict of the checkpoint, as new_state makes it."""
        hparams = {k: self.option(k) for k in HPARAM_DEFAULTS}
        chars = self.chars()
        shapes, carried = param_shapes(hparams["cell"], len(chars), hparams["hidden_size"])
        state = {"params": {k: self.array(k, shapes[k]) for k in PARAM_NAMES},
                 "mem": {k: self.array("m" + k, shapes[k]) for k in PARAM_NAMES},
                 "hprev": self.array("hprev", carried),
                 "rng": self.rng(), "chars": chars, "hparams": hparams,
                 **{name: self.value(name) for name, (kind, _, _) in FIELDS.items()
                    if kind in ("count", "loss", "sha256", "text")}}
        bad = non_finite_field(state)
        if bad is not None:
            raise self.corrupt(bad, "holds numbers a run cannot continue from (not finite, or a "
                                    "negative Adagrad memory)")
        why = impossible_state(hparams["cell"], state["hprev"])
        if why:
            raise self.corrupt("hprev", why)
        return state

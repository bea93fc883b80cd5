"""The logs of a run: loss.csv, val.csv and samples.txt; writing them, reading them back.

    loss.csv     iteration,loss,smooth_loss,smooth_bpc,clipped   (every --log-every iterations)
    val.csv      iteration,val_bpc                              (with --val-frac)
    samples.txt  --- iteration N --- and the sample              (every --sample-every iterations)
"""
import csv
import hashlib
import math
import os

from charrnn.system import UserError, write_error


LOSS_CSV_HEADER = "iteration,loss,smooth_loss,smooth_bpc,clipped"
VAL_CSV_HEADER = "iteration,val_bpc"
# How each log file begins: a file by that name that begins otherwise is not a run's log, and
# is never deleted. (Runs of an earlier version have three columns in loss.csv.)
RUN_FILE_STARTS = {"loss.csv": b"iteration,", "samples.txt": b"--- iteration ",
                   "val.csv": VAL_CSV_HEADER.encode()}


def bits_per_char(loss, characters):
    """A loss in nats summed over `characters` characters, as bits per character."""
    return loss / characters / math.log(2)


def per_char(loss, seq_length):
    """A loss summed over a chunk of seq_length characters, per character, in nats and bits."""
    return f"{loss / seq_length:.3f} nats = {bits_per_char(loss, seq_length):.3f} bits per character"


def loss_row(it, loss, smooth_loss, seq_length, clipped, columns):
    """One line of loss.csv, as bytes: the chunk loss, the smoothed loss (also in bits per
    character) and the names of the clipped gradients; only the first `columns` fields."""
    row = (str(it), repr(loss), repr(smooth_loss), repr(bits_per_char(smooth_loss, seq_length)),
           " ".join(clipped))
    return (",".join(row[:columns]) + "\n").encode()


def read_log(path, kind="loss"):
    """A CSV log as {column: list of strings}, one row per iteration (the last one written),
    in order of iteration. A half-written last line (a run killed mid-write) is left out;
    a byte-order mark (a spreadsheet's save) is ignored. Every fault is a UserError."""
    if os.path.isdir(path):
        raise UserError(f"'{path}' is a folder: give the {kind} log inside it")
    if not os.path.exists(path):
        raise UserError(f"'{path}': no such file")
    if not os.path.isfile(path):
        raise UserError(f"'{path}' is not a regular file: give a {kind} log")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"'{path}': cannot be read as CSV ({e})") from None
    if not rows:
        raise UserError(f"'{path}' is empty")
    header = [c.strip() for c in rows[0]]
    by_iteration = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            if len(row) != len(header):
                raise ValueError
            by_iteration[int(row[0])] = row
        except ValueError:
            if lineno == len(rows):
                break
            raise UserError(f"'{path}' line {lineno} is not a {kind} row: {','.join(row)!r}") from None
    ordered = [by_iteration[k] for k in sorted(by_iteration)]
    return {h: [r[i] for r in ordered] for i, h in enumerate(header)}


def last_row(path):
    """The fields of the last complete row of a CSV log, or None (cheap: reads the end only)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 300))
            lines = f.read().decode("utf-8", "replace").split("\n")
        return lines[-2].split(",") if len(lines) >= 3 else None  # [-1]: after the last newline
    except OSError:
        return None


def run_summary(out_dir, seq_length):
    """The last figures a run logged: its smoothed loss, per chunk and per character, and held-out bpc."""
    row, val = (last_row(os.path.join(out_dir, name)) for name in ("loss.csv", "val.csv"))
    if row is None:
        return "nothing logged yet"
    smooth = float(row[2])
    out = (f"smoothed loss {smooth:.2f} per {seq_length}-character chunk ({per_char(smooth, seq_length)}) "
           f"at iteration {row[0]}")
    return out + (f", held-out {float(val[1]):.3f} bits per character" if val else "")


def prefix_sha256(path, size):
    """A running SHA-256 of the first size bytes of path (of nothing, if size is 0)."""
    h = hashlib.sha256()
    if size:
        with open(path, "rb") as f:
            while size > 0:
                chunk = f.read(min(size, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                size -= len(chunk)
    return h


class RunLog:
    """A log file of a run, opened for appending after the first size bytes (what the checkpoint
    recorded; the rest is cut off, so nothing is doubled). It keeps a running SHA-256 of its
    content for the checkpoint, and a failed write is a UserError naming the file."""

    def __init__(self, path, size):
        self.path = path
        try:
            if os.path.exists(path):
                os.truncate(path, size)
            self.sha256 = prefix_sha256(path, size)
            self.f = open(path, "ab")
        except OSError as e:
            raise write_error(path, e) from None

    def write(self, data):
        """Append data (bytes) and flush, so a run killed at any moment leaves a readable file."""
        try:
            self.f.write(data)
            self.f.flush()
        except OSError as e:
            raise write_error(self.path, e) from None
        self.sha256.update(data)

    def tell(self):
        return self.f.tell()

    def close(self, failing=False):
        try:
            self.f.close()
        except OSError as e:
            if not failing:  # else the error already on its way says what went wrong
                raise write_error(self.path, e) from None

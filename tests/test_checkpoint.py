"""The checkpoint (charrnn.checkpoint): older formats still load and continue, every
hand-edited field is named, an array header that claims terabytes is refused unread."""
import io
import json
import os
import shutil
import zipfile

import numpy as np
import pytest
from helpers import (
    ROOT,
    SMALL,
    assert_one_line_error,
    blas_kernels,
    cli,
    read_rows,
    same_run,
    write_text,
)

from charrnn.checkpoint import CHECKPOINT_FORMAT, RUN_FILES, load_checkpoint
from charrnn.system import UserError
from min_char_rnn import PARAM_NAMES


BASELINE = os.path.join(ROOT, "tests", "data", "format1-rnn")  # written by the code before the gated cells


def baseline_args():
    with open(os.path.join(BASELINE, "MADE_WITH.json")) as f:
        return json.load(f)


def test_format_1_checkpoints_still_load(tmp_path):
    made = baseline_args()
    old = tmp_path / "old"
    shutil.copytree(BASELINE, old)
    ckpt = old / "checkpoint.npz"
    with np.load(ckpt) as z:
        assert int(z["format"]) == 1 and "cell" not in z.files
    g = cli("--sample-from", ckpt, "--strategy", "greedy", "--length", 40, "--prime", "ROMEO:")
    assert g.returncode == 0 and g.stdout.startswith("ROMEO:") and len(g.stdout) == 6 + 40 + 1, g.stderr
    r = cli("--compare", ckpt, "--length", 40, "--samples-dir", tmp_path / "s")
    assert r.returncode == 0 and "vanilla RNN, after 300" in (tmp_path / "s" / "old.md").read_text(), r.stderr
    text = write_text(tmp_path)
    r = cli(text, "--resume", "--out", old, "--iters", 400, "--print-interval", 0)
    assert r.returncode == 0, r.stderr
    assert "resuming at iteration 300" in r.stdout
    with np.load(ckpt) as z:
        assert int(z["format"]) == CHECKPOINT_FORMAT and str(z["cell"]) == "rnn" and int(z["n"]) == 400
    rows = read_rows(old)
    assert list(rows[0]) == ["iteration", "loss", "smooth_loss"]  # the old file keeps its columns
    assert [int(row["iteration"]) for row in rows] == list(range(0, 400, 10)) + [399]
    # on the machine that wrote it, the continued run equals one that never stopped
    if (blas_kernels(), np.__version__) == (made["blas_kernels"], made["numpy"]):
        full = tmp_path / "full"
        args = list(made["args"])
        args[args.index("--iters") + 1] = "400"
        assert cli(text, *args, "--out", full).returncode == 0
        with np.load(ckpt) as za, np.load(full / "checkpoint.npz") as zb:
            for k in [*PARAM_NAMES, "mWxh", "mWhh", "mWhy", "mbh", "mby", "hprev", "p", "rng_state"]:
                np.testing.assert_array_equal(za[k], zb[k], err_msg=k)
        assert (old / "samples.txt").read_bytes() == (full / "samples.txt").read_bytes()
        assert rows == [{k: row[k] for k in rows[0]} for row in read_rows(full)]


def test_format_2_checkpoints_still_load_and_resume(tmp_path):
    """Format 2 recorded no SHA-256 of the logs: they are not checked, and the run goes on."""
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    assert cli(text, *SMALL, "--iters", 200, "--out", run).returncode == 0
    ckpt = os.path.join(run, "checkpoint.npz")
    with np.load(ckpt) as z:
        arrays = {k: z[k] for k in z.files if k not in (fields[1] for fields in RUN_FILES.values())}
    arrays["format"] = np.int64(2)
    np.savez(ckpt, **arrays)
    assert load_checkpoint(ckpt)["loss_csv_sha256"] is None
    r = cli(text, "--resume", "--iters", 300, "--out", run)
    assert r.returncode == 0, r.stderr
    full = str(tmp_path / "full")
    assert cli(text, *SMALL, "--iters", 300, "--out", full).returncode == 0
    same_run(full, run)


# field: its hand-edited value, from the good one (None: the field is gone)
EDITS = {
    "p": lambda a: np.int64(-1), "log_every": lambda a: np.int64(0),
    "seq_length": lambda a: np.int64(0), "hidden_size": lambda a: np.int64(-5),
    "Wxh": lambda a: a.astype(complex), "Whh": lambda a: np.array("weights"),
    "Why": lambda a: np.full_like(a, np.nan), "mbh": lambda a: -np.ones_like(a),
    "hprev": lambda a: np.zeros((3, 1)), "seed": lambda a: np.uint64(2 ** 64 - 1),
    "vocab": lambda a: a[::-1], "rng_state": lambda a: np.array("{not json"),
    "smooth_loss": lambda a: np.float64(np.inf), "cell": lambda a: np.array("gpt"),
    "learning_rate": lambda a: np.array("0.1"), "val_frac": lambda a: np.float64(1.5),
    "loss_csv_bytes": lambda a: np.int64(-4), "text_sha256": lambda a: np.array("x"),
    "by": lambda a: None,
}


@pytest.mark.parametrize("field", list(EDITS))
def test_a_hand_edited_field_is_named(good_checkpoint, tmp_path, field):
    _, _, arrays = good_checkpoint
    arrays = dict(arrays)
    arrays[field] = EDITS[field](arrays[field])
    if arrays[field] is None:
        del arrays[field]
    ckpt = str(tmp_path / "checkpoint.npz")
    np.savez(ckpt, **arrays)
    with pytest.raises(UserError, match=f"corrupt: field '{field}'"):
        load_checkpoint(ckpt)


def test_an_array_header_claiming_terabytes_is_refused_unread(good_checkpoint, tmp_path):
    text, run, arrays = good_checkpoint
    ckpt = str(tmp_path / "run" / "checkpoint.npz")
    os.makedirs(os.path.dirname(ckpt))
    np.savez(ckpt, **arrays)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10 ** 7, 10 ** 6)})
    with zipfile.ZipFile(ckpt) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["Wxh.npy"] = header.getvalue() + bytes(64)  # the header, and 64 bytes of data
    with zipfile.ZipFile(ckpt, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    for r in (cli("--sample-from", ckpt), cli(text, "--resume", "--out", os.path.dirname(ckpt))):
        assert_one_line_error(r, "field 'Wxh' claims shape (10000000, 1000000)")


def carried_state_checkpoint(path, cell, hprev_of):
    """A checkpoint of a fresh cell run (hidden size 4) whose carried state is hprev_of(zeros)."""
    from charrnn.checkpoint import new_state, save_checkpoint
    from charrnn.options import HPARAM_DEFAULTS
    from charrnn.text import text_sha256
    hp = {**HPARAM_DEFAULTS, "cell": cell, "hidden_size": 4}
    state = new_state(list("ab"), text_sha256("abab"), hp, 10)
    state["hprev"] = hprev_of(state["hprev"].copy())
    save_checkpoint(str(path), state)
    return str(path)


def lstm_state(h, c):
    return lambda z: np.concatenate([np.full((4, 1), h), np.full((4, 1), c)])


# (cell, the carried state, whether a cell can give it)
CARRIED = [
    ("rnn", lambda z: z + 1.0, True), ("rnn", lambda z: z - 1.0000001, False),
    ("rnn", lambda z: z + 1.5, False),
    ("gru", lambda z: z - 1.0, True), ("gru", lambda z: z + 1.0000001, False),
    ("lstm", lstm_state(np.tanh(2.0), 2.0), True), ("lstm", lstm_state(0.5 * np.tanh(-3.0), -3.0), True),
    ("lstm", lstm_state(0.5, 0.5), False), ("lstm", lstm_state(0.01, 0.0), False),
]


@pytest.mark.parametrize("cell,hprev_of,possible", CARRIED,
                         ids=[f"{c}-{i}-{'possible' if ok else 'impossible'}"
                              for i, (c, _, ok) in enumerate(CARRIED)])
def test_a_carried_state_no_cell_can_give_is_refused(tmp_path, cell, hprev_of, possible):
    ckpt = carried_state_checkpoint(tmp_path / "checkpoint.npz", cell, hprev_of)
    if possible:
        load_checkpoint(ckpt)
    else:
        with pytest.raises(UserError, match="corrupt: field 'hprev'"):
            load_checkpoint(ckpt)


def test_an_impossible_carried_state_is_one_line_on_the_command_line(tmp_path):
    ckpt = carried_state_checkpoint(tmp_path / "checkpoint.npz", "lstm", lstm_state(0.9, 0.1))
    assert_one_line_error(cli("--sample-from", ckpt, "--length", 5), "hprev", "tanh(c)")

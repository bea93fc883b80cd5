"""The report workflow: --seeds (with each cell), plot_loss.py (held-out curve too) and --compare;
and the command line saying what to do (no abbreviations, the closest option, the exact command
that continues a stopped run, no file overwritten that the program did not write)."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import (
    ROOT,
    SMALL,
    advised_command,
    assert_one_line_error,
    cli,
    one_line,
    popen,
    rows_in,
    same_run,
    tree_digest,
    wait_for,
    write_text,
)
from reference import greedy_ref

from charrnn.checkpoint import load_checkpoint


ITERS = 1500
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def singles(tmp_path_factory):
    """Seeds 1 and 2 trained one at a time: what every group run must equal."""
    tmp = tmp_path_factory.mktemp("singles")
    text = write_text(tmp)
    for s in (1, 2):
        r = cli(text, *SMALL, "--iters", ITERS, "--seed", s, "--out", tmp / f"seed-{s}")
        assert r.returncode == 0, r.stderr
    return text, tmp


def test_seeds_equal_single_runs(singles, tmp_path):
    text, single = singles
    r = cli(text, *SMALL, "--iters", ITERS, "--seeds", 1, 2, "--out", tmp_path / "group",
            "--status-interval", 0.2)
    assert r.returncode == 0, r.stderr
    assert "finished: seed 1, 2" in r.stdout
    for s in (1, 2):
        same_run(single / f"seed-{s}", tmp_path / "group" / f"seed-{s}")


def test_seeds_ctrl_c_then_resume(singles, tmp_path):
    text, single = singles
    group = tmp_path / "group"
    args = [sys.executable, os.path.join(ROOT, "min_char_rnn.py"), text, *SMALL, "--iters", 20000,
            "--seeds", 1, 2, "--jobs", 1, "--out", group, "--checkpoint-every", 100]
    proc = subprocess.Popen(list(map(str, args)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = group / "seed-1" / "checkpoint.npz"
    end = time.time() + 60
    while not ckpt.exists() and time.time() < end:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped, checkpoint saved: seed 1" in out and "not started: seed 2" in out
    with np.load(ckpt) as z:
        assert 0 < int(z["n"]) < 20000
    # no options repeated: seed 1 takes them from its checkpoint, seed 2 (never started) from seed 1's
    r = cli(text, "--iters", ITERS, "--seeds", 1, 2, "--out", group, "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    for s in (1, 2):
        same_run(single / f"seed-{s}", group / f"seed-{s}")


def test_a_failing_seed_is_named_and_the_others_finish(tmp_path):
    text = write_text(tmp_path)
    group = tmp_path / "group"
    # seed 2's folder holds a run with other settings: starting it there again is refused
    assert cli(text, *SMALL, "--iters", 20, "--hidden-size", 8, "--out", group / "seed-2").returncode == 0
    r = cli(text, *SMALL, "--iters", 20, "--seeds", 1, 2, "--out", group)
    assert r.returncode == 1
    assert "seed 2: FAILED:" in r.stdout and "already holds a run" in r.stdout
    assert "finished: seed 1" in r.stdout
    assert (group / "seed-1" / "checkpoint.npz").exists()


def plot(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "plot_loss.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG and os.path.getsize(path) > 5000


def test_plot_loss_figures(singles, tmp_path):
    _, single = singles
    csvs = [single / "seed-1" / "loss.csv", single / "seed-2" / "loss.csv"]
    r = plot(csvs[0], "-o", tmp_path / "one.png")
    assert r.returncode == 0, r.stderr
    assert is_png(tmp_path / "one.png")
    r = plot(*csvs, "-o", tmp_path / "out" / "all.png", "--separate", "--raw")
    assert r.returncode == 0, r.stderr
    for name in ("all.png", "all-seed-1.png", "all-seed-2.png"):
        assert is_png(tmp_path / "out" / name), name
    assert plot(*csvs, "-o", tmp_path / "all.pdf").returncode == 0
    assert open(tmp_path / "all.pdf", "rb").read(5) == b"%PDF-"
    assert plot(*csvs, "-o", tmp_path / "all.svg").returncode == 0
    assert b"<svg" in open(tmp_path / "all.svg", "rb").read()


def test_plot_loss_refuses_bad_csvs(singles, tmp_path):
    _, single = singles
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    (tmp_path / "header-only.csv").write_text("iteration,loss,smooth_loss\n")
    (tmp_path / "garbled.csv").write_text("iteration,loss,smooth_loss\n0,1.0,2.0\nx,y,z\n100,1.0,2.0\n")
    for name, words in (("missing.csv", "no such file"), ("empty.csv", "empty"),
                        ("other.csv", "not a loss log"), ("header-only.csv", "no loss rows"),
                        ("garbled.csv", "line 3")):
        r = plot(single / "seed-1" / "loss.csv", tmp_path / name, "-o", tmp_path / "x.png")
        assert r.returncode != 0 and "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0] and words in lines[0], r.stderr
    assert not (tmp_path / "x.png").exists()


def test_compare_writes_both_strategies_and_greedy_is_argmax(singles, tmp_path):
    _, single = singles
    ckpts = [single / f"seed-{s}" / "checkpoint.npz" for s in (1, 2)]
    r = cli("--compare", *ckpts, "--prime", "ROMEO:", "--length", 120, "--samples-dir", tmp_path / "s")
    assert r.returncode == 0, r.stderr
    for s, ckpt in zip((1, 2), ckpts, strict=True):
        doc = (tmp_path / "s" / f"seed-{s}.md").read_text(encoding="utf-8")
        blocks = doc.split("```\n")[1::2]
        assert len(blocks) == 2 and "## Greedy" in doc and "## Multinomial" in doc
        greedy, multi = (b.rstrip("\n") for b in blocks)
        assert greedy.startswith("ROMEO:") and multi.startswith("ROMEO:")
        assert len(greedy) == len(multi) == len("ROMEO:") + 120
        # independently: feed the prime one-hot by one-hot, then decode by argmax
        state = load_checkpoint(str(ckpt))
        p, chars = state["params"], state["chars"]
        h = np.zeros((p["Whh"].shape[0], 1))
        for c in "ROMEO":
            x = np.zeros((len(chars), 1))
            x[chars.index(c)] = 1
            h = np.tanh(p["Wxh"] @ x + p["Whh"] @ h + p["bh"])
        want = "".join(chars[i] for i in greedy_ref(h, chars.index(":"), 120, p))
        assert greedy == "ROMEO:" + want
        assert multi != greedy


def test_plot_loss_formats_names_and_odd_inputs(singles, tmp_path):
    _, single = singles
    csv1 = single / "seed-1" / "loss.csv"
    r = plot(csv1, "-o", tmp_path / "loss.jpg")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "loss.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG, not loss.jpg.png
    assert not (tmp_path / "loss.jpg.png").exists()
    # two runs whose folders share a name: each per-run figure has its own file
    for parent in ("a", "b"):
        os.makedirs(tmp_path / parent / "seed-1")
        (tmp_path / parent / "seed-1" / "loss.csv").write_bytes(csv1.read_bytes())
    r = plot(tmp_path / "a" / "seed-1" / "loss.csv", tmp_path / "b" / "seed-1" / "loss.csv",
             "-o", tmp_path / "two.png", "--separate")
    assert r.returncode == 0, r.stderr
    assert is_png(tmp_path / "two-a-seed-1.png") and is_png(tmp_path / "two-b-seed-1.png")
    (tmp_path / "huge.csv").write_text("iteration,loss,smooth_loss\n0,1.7e308,1.7e308\n100,1.0,2.0\n")
    for args, words in (([csv1, "-o", tmp_path / "x.gif"], ["x.gif", ".png"]),
                        ([single / "seed-1", "-o", tmp_path / "x.png"], ["is a folder"]),
                        ([tmp_path / "huge.csv", "-o", tmp_path / "x.png"], ["line 2", "1.7e308"]),
                        ([csv1, "--ylim", 5, 2, "-o", tmp_path / "x.png"], ["--ylim"])):
        r = plot(*args)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and all(w in lines[0] for w in words), r.stderr
    assert not (tmp_path / "x.png").exists()
    (tmp_path / "adir.png").mkdir()  # a destination that is a folder
    r = plot(csv1, "-o", tmp_path / "adir.png")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "adir.png" in r.stderr


def test_seeds_train_a_gated_cell(tmp_path):
    text = write_text(tmp_path)
    r = cli(text, *SMALL, "--cell", "gru", "--val-frac", 0.1, "--iters", 60, "--seeds", 1, 2,
            "--out", tmp_path / "g")
    assert r.returncode == 0, r.stdout + r.stderr
    single = tmp_path / "single"
    assert cli(text, *SMALL, "--cell", "gru", "--val-frac", 0.1, "--iters", 60, "--seed", 2,
               "--out", single).returncode == 0
    same_run(single, tmp_path / "g" / "seed-2")


def test_plot_draws_the_heldout_curve(tmp_path):
    text = write_text(tmp_path)
    run = tmp_path / "run"
    assert cli(text, *SMALL, "--iters", 200, "--val-frac", 0.2, "--eval-every", 50,
               "--out", run).returncode == 0
    import plot_loss  # matplotlib: loaded by this test alone
    (it, _, _, bpc), (val_it, val_bpc) = plot_loss.read_run(str(run / "loss.csv"))
    assert val_it == [0, 50, 100, 150, 200] and len(it) == 21  # every 10, and the last, 199
    assert val_bpc[-1] < val_bpc[0]
    r = subprocess.run([sys.executable, os.path.join(ROOT, "plot_loss.py"), run / "loss.csv",
                        "-o", tmp_path / "p.png"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(tmp_path / "p.png") > 5000


# ---------------------------------------------------------------------------
# The command line says what to do (issue 21): each of these failed before it
# ---------------------------------------------------------------------------

def test_an_option_counts_only_spelled_in_full_and_a_typo_names_the_real_one(singles, tmp_path):
    text, single = singles
    r = cli(text, "--iter", 50, "--out", tmp_path / "run")  # once silently taken as --iters
    assert_one_line_error(r, "unknown option --iter", "did you mean --iters?")
    assert r.returncode == 2 and not (tmp_path / "run").exists()
    r = cli("--sample-from", single / "seed-1" / "checkpoint.npz", "--temprature", 2)
    assert_one_line_error(r, "unknown option --temprature", "did you mean --temperature?")
    r = plot(single / "seed-1" / "loss.csv", "--separete", "-o", tmp_path / "x.png")
    assert_one_line_error(r, "unknown option --separete", "did you mean --separate?")
    assert not (tmp_path / "x.png").exists()
    r = subprocess.run([sys.executable, os.path.join(ROOT, "report.py"), "--quik"], capture_output=True,
                       text=True, timeout=60)
    assert_one_line_error(r, "unknown option --quik", "did you mean --quick?")


def test_a_stopped_run_gives_the_exact_command_that_continues_it(undisturbed, tmp_path):
    """Ctrl-C, then the command the message gives, pasted as it is, from another folder: the
    run ends exactly as one that never stopped."""
    args = [*SMALL, "--iters", 400, "--checkpoint-every", 20]
    want = undisturbed(*args)
    text = write_text(tmp_path)
    run = tmp_path / "run"
    proc = popen(text, *args, "--out", run)
    assert wait_for(lambda: rows_in(run) > 3)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err
    line = one_line(err, "stopped by SIGINT", "continue with: python")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = cli(*advised_command(line, "continue with: "), cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    same_run(want, run)


def test_compare_never_overwrites_a_file_it_did_not_write(singles, tmp_path):
    _, single = singles
    ckpts = [single / f"seed-{s}" / "checkpoint.npz" for s in (1, 2)]
    mine = tmp_path / "my-samples"
    assert cli("--compare", *ckpts, "--length", 30, "--samples-dir", mine).returncode == 0
    (mine / "seed-1.md").write_text("my favourite sample, chosen with care\n")
    before = tree_digest(mine)
    r = cli("--compare", *ckpts, "--length", 30, "--samples-dir", mine)
    assert_one_line_error(r, "seed-1.md' exists", "(and 1 more)", "--force")
    assert tree_digest(mine) == before  # nothing written, not even seed-2.md
    r = cli("--compare", *ckpts, "--length", 30, "--samples-dir", mine, "--force")
    assert r.returncode == 0, r.stderr
    assert "## Greedy" in (mine / "seed-1.md").read_text()


def test_plot_loss_never_overwrites_a_file_it_did_not_write(singles, tmp_path):
    _, single = singles
    csvs = [single / "seed-1" / "loss.csv", single / "seed-2" / "loss.csv"]
    (tmp_path / "loss-seed-2.png").write_bytes(b"my own figure")
    r = plot(*csvs, "-o", tmp_path / "loss.png", "--separate")
    assert_one_line_error(r, "loss-seed-2.png' exists", "--force")
    assert sorted(os.listdir(tmp_path)) == ["loss-seed-2.png"]  # none of the three written
    r = plot(*csvs, "-o", tmp_path / "loss.png", "--separate", "--force")
    assert r.returncode == 0, r.stderr
    assert is_png(tmp_path / "loss-seed-2.png") and is_png(tmp_path / "loss.png")


def test_a_resumed_commands_speed_counts_from_its_checkpoint(singles, tmp_path):
    """A run killed after its last checkpoint leaves loss.csv rows past it; its resumed command
    starts at the checkpoint's iteration, and that is where its speed counts from (counting from
    the last row made report.py's estimate of the time left jump from minutes to hours)."""
    from charrnn.pool import Job
    text, single = singles
    run = tmp_path / "run"
    shutil.copytree(single / "seed-1", run)
    n = load_checkpoint(str(run / "checkpoint.npz"))["n"]
    with open(run / "loss.csv", "a") as f:  # rows written after the checkpoint, then a kill
        f.writelines(f"{n + k},40.0,45.0,2.6,\n" for k in range(1, 80))
    command = [text, "--resume", "--iters", str(n + 5000), "--out", str(run), "--print-interval", "1e9"]
    job = Job("run", [command])
    assert job.start_next(os.environ)
    try:
        assert job.n0 == n
        assert job.progress(job.t0 + 0.1)[2] is None  # the rows past the checkpoint are not speed
    finally:
        job.proc.send_signal(signal.SIGINT)
        job.proc.wait(timeout=60)
        job.finish()

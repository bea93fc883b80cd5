"""Faults injected the way they really happen (issue 9): two processes on one run, kill -9,
a full disk or a file-size limit, a read-only or deleted folder, a closed stdout, Ctrl-C,
special files, hand-edited files (the checkpoint's own checks are in test_checkpoint.py).
Each ends in one line on stderr (no traceback) or a correct result, and the run's files are
what an undisturbed run holds."""
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from helpers import (
    SCRIPT,
    SMALL,
    TEXT,
    advised_command,
    assert_one_line_error,
    cli,
    fsize_limit,
    one_line,
    read_rows,
    rows_in,
    same_run,
    tree_digest,
    wait_for,
    write_text,
)

from charrnn.checkpoint import load_checkpoint
from charrnn.options import TEMPERATURE_MAX


@pytest.fixture(scope="module")
def reference(undisturbed):
    """reference(*args): the folder of a run with these options that nothing disturbed."""
    return undisturbed


STARTED = []  # every process a test starts: killed when the test ends, whatever happened


@pytest.fixture(autouse=True)
def no_process_outlives_its_test():
    yield
    while STARTED:
        p = STARTED.pop()
        if p.poll() is None:
            p.kill()
            p.wait()


def started(p):
    # a watchdog, so that a test of code that hangs (reading a pipe twice, say) fails, not hangs
    watchdog = threading.Timer(120, p.kill)
    watchdog.daemon = True
    watchdog.start()
    STARTED.append(p)
    return p


def start(*args, **kwargs):
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    return started(subprocess.Popen([sys.executable, SCRIPT, *map(str, args)],
                                    stderr=subprocess.PIPE, text=True, **kwargs))


def checkpoint_n(run):
    with np.load(os.path.join(run, "checkpoint.npz")) as z:
        return int(z["n"])


def resumes_exactly(text, run, reference, args, iters):
    """--resume of run up to iters gives what an undisturbed run of args up to iters holds."""
    r = cli(text, "--resume", "--iters", iters, "--out", run)
    assert r.returncode == 0, r.stderr
    same_run(reference(*args, "--iters", iters), run)


# --- one writer per run directory ------------------------------------------------------

def test_a_second_writer_is_refused_and_kill_9_leaves_nothing_to_clean(tmp_path, reference):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    args = [*SMALL, "--checkpoint-every", 100]
    owner = start(text, *args, "--iters", 10 ** 6, "--out", run)
    assert wait_for(lambda: os.path.exists(os.path.join(run, "checkpoint.npz")) and rows_in(run) > 20)
    # a new start and a resume, while the owner trains: both refused, naming the owner
    for extra in ([], ["--resume"]):
        r = cli(text, *args, "--iters", 10 ** 6, "--out", run, *extra)
        assert r.returncode == 1
        one_line(r.stderr, "in use", f"process {owner.pid}")
    assert owner.poll() is None, "the owner must still be training, undisturbed"
    owner.kill()  # kill -9: the lock goes with the process
    owner.communicate(timeout=60)
    resumes_exactly(text, run, reference, args, checkpoint_n(run) + 300)  # at once, no clean-up


def test_two_starts_at_the_same_moment_give_one_run(tmp_path, reference):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    args = [*SMALL, "--iters", 1500]
    procs = [start(text, *args, "--out", run) for _ in range(2)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], errs
    line = one_line(max(errs, key=len))
    assert "in use" in line or "already holds a run" in line, line
    same_run(reference(*args), run)  # no row written twice


# --- stale files, the last good checkpoint ---------------------------------------------

def test_a_new_run_never_appends_to_a_dead_runs_files(tmp_path, reference):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    args = [*SMALL, "--iters", 400]
    dead = start(text, *SMALL, "--iters", 10 ** 6, "--checkpoint-every", 10 ** 6, "--out", run)
    assert wait_for(lambda: rows_in(run) > 20)
    dead.kill()  # before its first checkpoint
    dead.communicate(timeout=60)
    assert not os.path.exists(os.path.join(run, "checkpoint.npz"))
    r = cli(text, "--resume", "--out", run)
    assert r.returncode == 1 and "no checkpoint" in one_line(r.stderr)
    r = cli(text, *args, "--out", run)
    assert r.returncode == 0, r.stderr
    same_run(reference(*args), run)
    # the same after a run that diverged before its first checkpoint
    run2 = str(tmp_path / "run2")
    r = cli(text, *SMALL, "--iters", 400, "--learning-rate", "1.5e308", "--out", run2)
    one_line(r.stderr, "no checkpoint was written yet")
    assert os.path.getsize(os.path.join(run2, "loss.csv")) > 0
    r = cli(text, *args, "--out", run2)
    assert r.returncode == 0, r.stderr
    same_run(reference(*args), run2)
    # a file of that name that is not a run's log is the user's: refused, not deleted
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "samples.txt").write_text("my notes\n")
    assert_one_line_error(cli(text, *args, "--out", mine), "samples.txt", "not a log of a run")
    assert (mine / "samples.txt").read_text() == "my notes\n"


def test_a_diverged_run_keeps_a_finite_checkpoint(tmp_path):
    text = write_text(tmp_path)
    # 1.5e308 makes `by` infinite in the first Adagrad step while the loss is still finite:
    # that state must never be saved
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--iters", 50, "--checkpoint-every", 1, "--learning-rate", "1.5e308",
            "--out", run)
    assert r.returncode == 1
    one_line(r.stderr, "diverged", "'by' is not finite at iteration 1", "no checkpoint was written yet")
    assert not os.path.exists(os.path.join(run, "checkpoint.npz"))
    # a run with good checkpoints that then diverges (its learning rate edited by hand)
    run = str(tmp_path / "run2")
    assert cli(text, *SMALL, "--iters", 50, "--checkpoint-every", 1, "--out", run).returncode == 0
    ckpt = os.path.join(run, "checkpoint.npz")
    with np.load(ckpt) as z:
        arrays = dict(z)
    arrays["learning_rate"] = np.float64(1.5e308)
    np.savez(ckpt, **arrays)
    r = cli(text, "--resume", "--iters", 100, "--checkpoint-every", 1, "--out", run)
    assert r.returncode == 1
    one_line(r.stderr, "last good checkpoint", "is kept")
    state = load_checkpoint(ckpt)  # only finite numbers, or it would not load
    assert state["n"] >= 50
    r = cli("--sample-from", ckpt, "--length", 50)
    assert r.returncode == 0 and len(r.stdout) == 1 + 50 + 1 and r.stderr == "", r.stderr


# --- resume checks what it keeps ----------------------------------------------------------

@pytest.mark.parametrize("edit", ["crlf", "same-size"])
def test_resume_refuses_a_rewritten_log(tmp_path, edit):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    assert cli(text, *SMALL, "--iters", 200, "--out", run).returncode == 0
    path = os.path.join(run, "loss.csv" if edit == "crlf" else "samples.txt")
    raw = open(path, "rb").read()
    raw = raw.replace(b"\n", b"\r\n") if edit == "crlf" else raw.replace(b"e", b"E")
    open(path, "wb").write(raw)
    before = tree_digest(run)
    r = cli(text, "--resume", "--iters", 300, "--out", run)
    assert r.returncode == 1
    one_line(r.stderr, os.path.basename(path), "differ from what the checkpoint recorded")
    assert tree_digest(run) == before


# --- I/O faults mid-run -------------------------------------------------------------------

def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")


# many samples, so that the samples file is what fills the disk
FILLING = [*SMALL, "--sample-every", 10, "--sample-length", 1000, "--checkpoint-every", 200]


@pytest.mark.parametrize("fault", ["disk-full", "file-size-limit"])
def test_a_full_disk_stops_in_one_line_and_resume_is_exact(tmp_path, reference, fault):
    text = write_text(tmp_path)
    if fault == "disk-full":
        disk = tmp_path / "disk"
        mount_tmpfs(disk, "128k")  # two checkpoints (the old one, the new one being written) and some logs
        run, limit = str(disk / "run"), None
    else:
        run, limit = str(tmp_path / "run"), fsize_limit(60000)
    try:
        p = start(text, *FILLING, "--iters", 1500, "--out", run, preexec_fn=limit)
        err = p.communicate(timeout=120)[1]
        assert p.returncode == 1
        reason = "no space left on device" if fault == "disk-full" else "file too large"
        n = checkpoint_n(run)
        line = one_line(err, "cannot write", run, reason, f"(iteration {n}) is kept: continue with python")
        assert advised_command(line, "continue with ") == [text, "--resume", "--out", run, "--iters", "1500"]
        assert 0 < n < 1500
        if fault == "disk-full":
            subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)
        resumes_exactly(text, run, reference, FILLING, 1500)  # the cause is gone: continue
    finally:
        if fault == "disk-full":
            subprocess.run(["umount", str(disk)])


def seeds_of(command):
    """The seeds a --seeds command names."""
    at = command.index("--seeds") + 1
    seeds = []
    while at < len(command) and command[at].isdigit():
        seeds.append(int(command[at]))
        at += 1
    return seeds


def without_dac_override():
    """A preexec_fn: root as an ordinary user for file permissions (no CAP_DAC_OVERRIDE), so a
    folder made read-only with chmod is read-only for the child too."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.parametrize("fault", ["read-only", "deleted"])
def test_output_folder_made_read_only_or_deleted(tmp_path, reference, fault):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    args = [*SMALL, "--checkpoint-every", 100]
    p = start(text, *args, "--iters", 10 ** 6, "--out", run, preexec_fn=without_dac_override)
    assert wait_for(lambda: os.path.exists(os.path.join(run, "checkpoint.npz")))
    if fault == "read-only":
        os.chmod(run, 0o555)
    else:
        while os.path.exists(run):  # the run may add a file while it goes
            shutil.rmtree(run, ignore_errors=True)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 1
    one_line(err, f"cannot write '{os.path.join(run, 'checkpoint.npz')}'",
             "permission denied" if fault == "read-only" else "no such file or directory")
    if fault == "deleted":
        return
    os.chmod(run, 0o755)
    resumes_exactly(text, run, reference, args, checkpoint_n(run) + 300)


def test_closed_stdout_stops_training_cleanly(tmp_path, reference):
    """`python min_char_rnn.py ... | head -1`: the run stops as on Ctrl-C, saving its checkpoint."""
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    args = [*SMALL, "--iters", 3000]
    p = start(text, *args, "--out", run, stdout=subprocess.PIPE)
    assert p.stdout.readline().startswith("vanilla RNN")
    p.stdout.close()  # head -1 has its line
    err = p.stderr.read()
    p.wait(timeout=60)
    assert p.returncode == 128 + signal.SIGPIPE
    one_line(err, "stopped by SIGPIPE", "--resume")
    assert 0 < checkpoint_n(run) < 3000
    r = cli(text, "--resume", "--iters", 3000, "--out", run)
    assert r.returncode == 0, r.stderr
    same_run(reference(*args), run)


def test_closed_stdout_ends_a_long_sample_quietly(tmp_path):
    """--length 10**13 streams: the first characters come at once, in bounded memory, and the
    sampler stops when its reader does (`| head -c`), like any Unix tool: exit 141, no message."""
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    assert cli(text, *SMALL, "--iters", 100, "--out", run).returncode == 0
    p = start("--sample-from", os.path.join(run, "checkpoint.npz"), "--length", 10 ** 13,
              stdout=subprocess.PIPE)
    got = p.stdout.read(100000)
    assert len(got) == 100000 and set(got) <= set(TEXT)
    p.stdout.close()
    err = p.stderr.read()
    p.wait(timeout=60)
    assert p.returncode == 128 + signal.SIGPIPE and err == ""


def test_stdout_on_a_full_device(tmp_path):
    """stdout redirected to a full disk (/dev/full): one line, like any other failed write."""
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    with open("/dev/full", "w") as full:
        p = start(text, *SMALL, "--iters", 100, "--out", run, stdout=full)
        err = p.communicate(timeout=60)[1]
    assert p.returncode == 1
    one_line(err, "cannot write to standard output", "no space left on device")


# --- interrupts and special files ---------------------------------------------------------

def test_ctrl_c_while_reading_the_text(tmp_path):
    fifo = str(tmp_path / "text.fifo")
    os.mkfifo(fifo)
    p = start(fifo, "--out", tmp_path / "run")
    with open(fifo, "w") as writer:  # returns once the run has opened the text: it is reading
        writer.write(TEXT[:100])
        writer.flush()
        p.send_signal(signal.SIGINT)
    # (closed: a signal that came just before a blocking read is acted on when the read returns)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 130
    one_line(err, "interrupted")
    assert not os.path.exists(tmp_path / "run")


def test_seeds_ctrl_c_right_after_the_start(tmp_path):
    """The children get the signal while they start: they are stopped or not started, never FAILED."""
    text = write_text(tmp_path)
    p = start(text, *SMALL, "--iters", 10 ** 6, "--seeds", 1, 2, 3, 4, "--jobs", 4,
              "--out", tmp_path / "group", stdout=subprocess.PIPE)
    assert p.stdout.readline().startswith("training seeds")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, out + err
    assert "FAILED" not in out and "Traceback" not in err, out + err
    # after 0:00:01: stopped, checkpoint saved: seed 1; not started: seed 2, 3, 4; continue with ...
    summary = out.strip().splitlines()[-1]
    command = advised_command(summary, "; continue with: ")  # the exact command that continues the group
    assert seeds_of(command) == [1, 2, 3, 4] and "--resume" in command, summary
    groups = dict(g.split(": seed ") for g in summary.split(": ", 1)[1].split("; ") if ": seed " in g)
    assert set(groups) <= {"stopped, checkpoint saved", "not started"}, summary
    assert sorted(int(s) for v in groups.values() for s in v.split(", ")) == [1, 2, 3, 4], summary


@pytest.mark.parametrize("kind", ["fifo", "stdin"])
def test_seeds_read_a_pipe_once(tmp_path, reference, kind):
    args = [*SMALL, "--iters", 300]
    if kind == "fifo":
        source = str(tmp_path / "text.fifo")
        os.mkfifo(source)
        feed = started(subprocess.Popen(["sh", "-c", f"cat > '{source}'"], stdin=subprocess.PIPE))
        feed.stdin.write(TEXT.encode())
        feed.stdin.close()
        stdin = None
    else:
        source, stdin = "/dev/stdin", subprocess.PIPE
    cmd = [sys.executable, SCRIPT, source, *args, "--seeds", 1, 2, "--out", tmp_path / "group"]
    p = started(subprocess.Popen(list(map(str, cmd)), stdin=stdin, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True))
    out, err = p.communicate(TEXT if stdin else None, timeout=120)
    assert p.returncode == 0, out + err
    for s in (1, 2):
        same_run(reference(*args, "--seed", s), tmp_path / "group" / f"seed-{s}")


def test_devices_are_not_texts(tmp_path):
    r = cli("/dev/zero", "--out", tmp_path / "run")
    assert_one_line_error(r, "/dev/zero", "not a text file")
    assert not os.path.exists(tmp_path / "run")


# --- values the run must be able to store and reopen --------------------------------------

def test_the_largest_seed_trains_resumes_and_samples(tmp_path):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    seed = 2 ** 63 - 1
    assert cli(text, *SMALL, "--iters", 20, "--seed", seed, "--out", run).returncode == 0
    r = cli(text, "--resume", "--iters", 30, "--out", run)
    assert r.returncode == 0, r.stderr
    r = cli("--sample-from", os.path.join(run, "checkpoint.npz"), "--length", 20, "--seed", seed)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert_one_line_error(cli(text, "--seed", 2 ** 63, "--out", run + "2"), "--seed",
                          "<= 9223372036854775807")


def test_huge_temperature_is_refused_and_the_largest_is_clean(tmp_path):
    text = write_text(tmp_path)
    run = str(tmp_path / "run")
    assert cli(text, *SMALL, "--iters", 20, "--out", run).returncode == 0
    ckpt = os.path.join(run, "checkpoint.npz")
    assert_one_line_error(cli("--sample-from", ckpt, "--temperature", "1e308"), "--temperature", "<=")
    r = cli("--sample-from", ckpt, "--temperature", TEMPERATURE_MAX, "--length", 2000)
    assert r.returncode == 0 and r.stderr == "", r.stderr  # no RuntimeWarning
    chars = sorted(set(TEXT))
    counts = np.array([r.stdout[1:-1].count(c) for c in chars])
    assert counts.min() > 0  # about uniform: every character comes up


def test_a_text_too_large_for_memory_is_refused_up_front(tmp_path):
    text = tmp_path / "huge.txt"
    with open(text, "wb") as f:
        f.truncate(2 ** 40)  # 1 TiB, sparse: nothing is written to disk
    r = cli(text, "--out", tmp_path / "run")
    assert_one_line_error(r, "too large", "GiB", "available")
    assert not os.path.exists(tmp_path / "run")


def test_a_model_too_large_for_memory_is_refused_up_front(tmp_path):
    text = write_text(tmp_path)
    r = cli(text, "--hidden-size", 10 ** 7, "--out", tmp_path / "run")
    assert_one_line_error(r, "hidden size 10000000", "GiB", "available")
    assert not os.path.exists(tmp_path / "run")


# --- outputs that would overwrite each other, odd values ----------------------------------

def test_compare_gives_runs_of_the_same_name_their_own_files(good_checkpoint, tmp_path):
    _, run, arrays = good_checkpoint
    paths = []
    for parent in ("a", "b"):
        os.makedirs(tmp_path / parent / "run")
        paths.append(str(tmp_path / parent / "run" / "checkpoint.npz"))
        np.savez(paths[-1], **arrays)
    out = tmp_path / "samples"
    r = cli("--compare", *paths, "--length", 30, "--samples-dir", out)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["run-2.md", "run.md"]
    assert paths[0] in (out / "run.md").read_text() and paths[1] in (out / "run-2.md").read_text()
    (tmp_path / "a-file").write_text("x")
    assert_one_line_error(cli("--compare", paths[0], "--samples-dir", tmp_path / "a-file"),
                          "a-file", "not a directory")
    os.makedirs(tmp_path / "s2" / "run.md")
    assert_one_line_error(cli("--compare", paths[0], "--samples-dir", tmp_path / "s2"),
                          "run.md' exists", "--force")
    assert_one_line_error(cli("--compare", paths[0], "--samples-dir", tmp_path / "s2", "--force"),
                          "cannot write", "run.md", "is a directory")
    assert os.listdir(tmp_path / "s2") == ["run.md"]  # no temporary file left behind
    read_only = tmp_path / "s3"
    read_only.mkdir(mode=0o555)
    r = subprocess.run([sys.executable, SCRIPT, "--compare", paths[0], "--samples-dir", read_only],
                       capture_output=True, text=True, preexec_fn=without_dac_override, timeout=120)
    assert_one_line_error(r, "cannot write", "run.md", "permission denied")


def test_an_encoding_that_gives_a_lone_surrogate_is_refused(tmp_path):
    path = tmp_path / "u7.txt"
    path.write_bytes(b"+2D0-" + TEXT.encode())  # utf-7 for U+D83D alone
    r = cli(path, "--encoding", "utf-7", "--out", tmp_path / "run")
    assert_one_line_error(r, "lone surrogate", "U+D83D", "--encoding")


def test_started_with_stdout_closed_trains_and_samples(tmp_path):
    text = write_text(tmp_path)
    run = tmp_path / "run"
    sh = f"{sys.executable} {SCRIPT} {text} {' '.join(SMALL)} --iters 100 --out {run} >&-"
    r = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert int(read_rows(str(run))[-1]["iteration"]) == 99
    sh = f"{sys.executable} {SCRIPT} --sample-from {run}/checkpoint.npz --length 50 >&-"
    r = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_a_random_generator_state_out_of_range_is_named(tmp_path):
    import json
    text = write_text(tmp_path)
    run = tmp_path / "run"
    assert cli(text, *SMALL, "--iters", 20, "--out", run).returncode == 0
    arrays = dict(np.load(run / "checkpoint.npz"))
    rng = json.loads(str(arrays["rng_state"]))
    for value in (2 ** 200, -1):
        rng["state"]["state"] = value
        arrays["rng_state"] = np.str_(json.dumps(rng))
        np.savez(tmp_path / "bad.npz", **arrays)
        assert_one_line_error(cli("--sample-from", tmp_path / "bad.npz"), "rng_state")


def test_killing_the_seeds_parent_stops_its_runs(tmp_path):
    text = write_text(tmp_path)
    group = tmp_path / "group"
    proc = subprocess.Popen([sys.executable, SCRIPT, text, *SMALL, "--iters", "10000000", "--seeds", "1", "2",
                             "--checkpoint-every", "100", "--out", str(group)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: all((group / f"seed-{s}" / "checkpoint.npz").exists() for s in (1, 2)))
    proc.kill()  # kill -9: the parent cannot pass anything on
    proc.wait()

    def unlocked(run):  # the child that owned the run has ended
        import fcntl
        with open(run / "run.lock", "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
    # the children saw their parent die: they saved and ended, so the group resumes
    assert wait_for(lambda: all(unlocked(group / f"seed-{s}") for s in (1, 2)), timeout=30)
    r = cli(text, "--iters", 20, "--seeds", 1, 2, "--out", group, "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "in use" not in r.stdout


def test_the_kept_checkpoint_is_one_whose_loss_was_finite(tmp_path):
    text = write_text(tmp_path)
    # 1e308: the first update leaves finite but enormous weights, whose loss is NaN
    run = str(tmp_path / "run")
    r = cli(text, *SMALL, "--iters", 50, "--checkpoint-every", 1, "--learning-rate", "1e308", "--out", run)
    one_line(r.stderr, "loss became nan at iteration 1", "no good checkpoint", "diverged")
    assert not os.path.exists(os.path.join(run, "checkpoint.npz"))
    assert os.path.exists(os.path.join(run, "checkpoint.diverged.npz"))
    # with a checkpoint before it, that one is put back
    run = str(tmp_path / "run2")
    assert cli(text, *SMALL, "--iters", 50, "--checkpoint-every", 1, "--out", run).returncode == 0
    ckpt = os.path.join(run, "checkpoint.npz")
    arrays = dict(np.load(ckpt))
    arrays["learning_rate"] = np.float64(1e308)
    np.savez(ckpt, **arrays)
    r = cli(text, "--resume", "--iters", 100, "--checkpoint-every", 1, "--out", run)
    one_line(r.stderr, "loss became nan at iteration 51", "last good checkpoint", "(iteration 50)")
    assert load_checkpoint(ckpt)["n"] == 50
    r = cli("--sample-from", ckpt, "--length", 50)
    assert r.returncode == 0 and len(r.stdout) == 1 + 50 + 1 and r.stderr == "", r.stderr


def test_a_second_seeds_group_on_one_folder_is_refused(tmp_path):
    text = write_text(tmp_path)
    group = tmp_path / "group"
    first = subprocess.Popen([sys.executable, SCRIPT, text, *SMALL, "--iters", "10000000",
                              "--seeds", "1", "2", "--out", str(group)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: (group / "seed-1" / "loss.csv").exists())
        r = cli(text, *SMALL, "--iters", 100, "--seeds", 1, 2, 3, "--out", group)
        assert_one_line_error(r, "is in use", f"process {first.pid}", "--seeds group")
        assert not (group / "seed-3").exists()
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)


def ignoring_sigint():
    """A preexec_fn: SIGINT ignored, as for a job a shell starts with &."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("signum,delay,ignored", [(signal.SIGINT, 0.3, True), (signal.SIGTERM, 0.05, False)])
def test_seeds_parent_alone_stopped_from_a_script(tmp_path, signum, delay, ignored):
    """kill -INT/-TERM to the --seeds parent alone (not its process group), at some moment after
    it started: every seed saved or not started, never FAILED."""
    text = write_text(tmp_path)
    p = start(text, *SMALL, "--iters", 10 ** 6, "--checkpoint-every", 50, "--seeds", 1, 2, "--jobs", 2,
              "--out", tmp_path / "group", stdout=subprocess.PIPE,
              preexec_fn=ignoring_sigint if ignored else None)
    assert p.stdout.readline().startswith("training seeds")
    threading.Event().wait(delay)
    p.send_signal(signum)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signum, out + err
    assert "FAILED" not in out and "Traceback" not in err, out + err
    # after 0:00:01: stopped, checkpoint saved: seed 1; not started: seed 2; continue with ...
    # (the table of the seeds' losses follows it where a seed logged rows)
    summary = next(line for line in out.splitlines() if line.startswith("after "))
    command = advised_command(summary, "; continue with: ")  # the exact command that continues the group
    assert seeds_of(command) == [1, 2] and "--resume" in command, summary
    groups = dict(g.split(": seed ") for g in summary.split(": ", 1)[1].split("; ") if ": seed " in g)
    assert set(groups) <= {"stopped, checkpoint saved", "not started"}, summary

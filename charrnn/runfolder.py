"""The run folder: the names of run folders and of the checkpoint in one, and its one writer
(whoever holds the folder's lock)."""
import atexit
import contextlib
import fcntl
import os

from charrnn.system import UserError


CHECKPOINT = "checkpoint.npz"  # the full training state, in every run folder


def seed_folder(root, seed):
    """The folder of the run of one seed below root: root/seed-<seed> (the default --out is
    seed_folder("runs", seed); a --seeds group's runs are seed_folder(--out, s))."""
    return os.path.join(root, f"seed-{seed}")


def checkpoint_path(folder):
    """The checkpoint of the run in folder."""
    return os.path.join(folder, CHECKPOINT)


LOCK_FILE = "run.lock"  # in every run directory: whoever holds its flock is the run's one writer
# What save_checkpoint writes on its way and a kill can leave behind: nobody reads them, and
# the owner of the folder clears them.
HALF_DONE = ("checkpoint.npz.tmp", "checkpoint.previous.npz.tmp", ".write-test")


def own_run_dir(out_dir, what="training this run"):
    """Make this process the one writer of out_dir, for as long as it lives.

    An exclusive flock on out_dir/run.lock, which holds the owner's PID so that a refused
    process can name it. The kernel drops the lock when its process ends, however it ends
    (kill -9 too), so nothing is left to clean up before the run is resumed.
    """
    try:
        os.makedirs(out_dir, exist_ok=True)
        fd = os.open(os.path.join(out_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UserError(f"cannot write to output directory '{out_dir}': {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f"process {holder}" if holder.isdigit() else "another process"
        raise UserError(f"'{out_dir}' is in use: {who} is {what} "
                        f"(one run directory, one writer); wait for it to end or stop it") from None
    except OSError as e:  # a file system without locks: one writer cannot be promised there
        os.close(fd)
        raise UserError(f"cannot lock '{os.path.join(out_dir, LOCK_FILE)}': {e.strerror}") from None
    with contextlib.suppress(OSError):  # the PID only names the owner: a full disk may keep it out
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    atexit.register(forget_owner, fd)
    for name in HALF_DONE:  # the owner clears what a writer killed mid-way left
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(out_dir, name))
    try:  # the lock file may be old: check that new files can still be made here
        probe = os.path.join(out_dir, ".write-test")
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise UserError(f"cannot write to output directory '{out_dir}': {e.strerror}") from None


def forget_owner(fd):
    """On the way out: the lock goes with the process; the PID is emptied, so a refused command
    leaves the directory as it was."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)

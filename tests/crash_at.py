"""Run the trainer and end it as kill -9 would (os._exit(137): no clean-up, no flush) at the
K-th call of one file operation, just before it or just after it:

    python tests/crash_at.py OP K before|after -- <min_char_rnn.py arguments>

OP is one of savez, fsync, link, replace, remove. link, replace and remove count only the
calls on a checkpoint's files (the names that hold "checkpoint"), so that K counts the steps
of save_checkpoint: with a checkpoint already on disk, each save is savez, fsync,
remove(previous.tmp), link(checkpoint -> previous.tmp), replace(previous.tmp -> previous),
replace(tmp -> checkpoint). A call that raises (remove of a file that is not there) counts
too, and "after" ends the process all the same. Nothing in the product code knows of this.
If the K-th call never comes, the trainer ends as it would have, and the exit code says so.
"""
import os
import signal
import sys


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS = ("savez", "fsync", "link", "replace", "remove")
WHEN = ("before", "after", "sigint")
KILLED = 137  # what a shell reports for a process killed by SIGKILL


def on_checkpoint_files(op, args):
    if op in ("savez", "fsync"):
        return True
    return any("checkpoint" in os.fspath(a) for a in args if isinstance(a, (str, bytes, os.PathLike)))


def crashing(op, func, k, when):
    """func, ending the process at its k-th counted call."""
    calls = [0]

    def wrapper(*args, **kwargs):
        if not on_checkpoint_files(op, args):
            return func(*args, **kwargs)
        calls[0] += 1
        if calls[0] == k and when == "before":
            os._exit(KILLED)
        try:
            return func(*args, **kwargs)
        finally:
            if calls[0] == k and when == "after":
                os._exit(KILLED)
            if calls[0] == k and when == "sigint":
                signal.raise_signal(signal.SIGINT)
    return wrapper


def main(argv):
    if len(argv) < 4 or argv[0] not in OPS or argv[2] not in WHEN or argv[3] != "--":
        sys.exit(f"usage: crash_at.py {{{','.join(OPS)}}} K before|after|sigint -- TRAINER-ARGS")
    op, k, when, trainer_args = argv[0], int(argv[1]), argv[2], argv[4:]
    sys.path.insert(0, ROOT)
    from charrnn.system import quiet_start
    quiet_start()  # as min_char_rnn.py does, before numpy loads
    import numpy as np
    if op == "savez":
        np.savez = crashing(op, np.savez, k, when)
    else:
        setattr(os, op, crashing(op, getattr(os, op), k, when))
    sys.argv[0] = os.path.join(ROOT, "min_char_rnn.py")
    from charrnn.cli import main as trainer_main
    return trainer_main(trainer_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

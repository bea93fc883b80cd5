"""The run folder: the names of run folders and of the files in one."""
import os


CHECKPOINT = "checkpoint.npz"  # the full training state, in every run folder


def seed_folder(root, seed):
    """The folder of the run of one seed below root: root/seed-<seed> (the default --out is
    seed_folder("runs", seed); a --seeds group's runs are seed_folder(--out, s))."""
    return os.path.join(root, f"seed-{seed}")


def checkpoint_path(folder):
    """The checkpoint of the run in folder."""
    return os.path.join(folder, CHECKPOINT)

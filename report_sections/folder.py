"""The report's folder (--samples-dir): written only where report.py owns every file.

report.py writes the page into a new temporary folder beside the report's folder, then puts it
in place whole. Into it goes MANIFEST.json, the list of every file the report wrote with its
SHA-256, and the report's scale:

    {"written by": "report.py", "scale": "full",
     "files": {"README.md": "9f86d0...", "cells.csv": "2c26b4...", ...}}

A folder may be replaced only when it does not exist, is empty, or holds exactly the files its
manifest lists, each with the same hash: no other file, no subfolder, no symbolic link. So a
file of the user's in there (a comparison written by `min_char_rnn.py --compare`, an edited
page) is never deleted: the report is refused before anything is trained or touched.
"""
import contextlib
import hashlib
import json
import os
import shutil
import signal
import stat
import tempfile

from charrnn.system import UserError


MANIFEST = "MANIFEST.json"
WRITTEN_BY = "report.py"


class Refused(UserError):
    """A report folder report.py may not replace (exit code 2, as for a bad option)."""


def sha256(path):
    """The SHA-256 of a regular file, never through a symbolic link."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        block = f.read(1 << 20)
        while block:
            h.update(block)
            block = f.read(1 << 20)
    return h.hexdigest()


def write_manifest(folder, names, scale):
    """List the files names of folder, with their hashes, in its manifest."""
    files = {name: sha256(os.path.join(folder, name)) for name in sorted(names)}
    manifest = {"written by": WRITTEN_BY, "scale": scale, "files": files}
    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def read_manifest(folder):
    """The folder's manifest, or None when it has none that report.py wrote."""
    path = os.path.join(folder, MANIFEST)
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    ok = (isinstance(manifest, dict) and manifest.get("written by") == WRITTEN_BY
          and isinstance(manifest.get("files"), dict)
          and all(isinstance(h, str) for h in manifest["files"].values()))
    return manifest if ok else None


def foreign(folder, manifest):
    """The first entry of folder that its manifest does not account for, and why; None when
    every entry is a file the manifest lists with the same hash."""
    files = manifest["files"] if manifest else {}
    for name in sorted(os.listdir(folder)):
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if stat.S_ISLNK(mode):
            return name, "is a symbolic link"
        if stat.S_ISDIR(mode):
            return name, "is a folder the report did not write"
        if name == MANIFEST and manifest:
            continue
        if name not in files or not stat.S_ISREG(mode):
            return name, "is not a file the report wrote" + (f" (not in its {MANIFEST})" if manifest else
                                                              f" (the folder has no {MANIFEST})")
        if sha256(os.path.join(folder, name)) != files[name]:
            return name, "was changed since the report wrote it"
    return None


def check_replaceable(folder, shown, scale, replace_full):
    """Refuse (UserError) a report folder report.py may not replace whole: one that holds
    anything it did not write, or the full report when this report is not full (unless
    replace_full). shown: the folder as the user gave it."""
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise Refused(f"--samples-dir '{shown}' is a symbolic link: give the folder itself, or another "
                        f"--samples-dir")
    if not stat.S_ISDIR(mode):
        raise Refused(f"--samples-dir '{shown}' is a file: give a new or empty folder")
    manifest = read_manifest(folder)
    first = foreign(folder, manifest)
    if first:
        name, why = first
        raise Refused(f"--samples-dir '{shown}' holds '{name}', which {why}, and the report replaces "
                        f"the whole folder: move it out, or give another --samples-dir (new or empty)")
    if manifest and manifest.get("scale") == "full" and scale != "full" and not replace_full:
        raise Refused(f"--samples-dir '{shown}' holds the full report and this one is --scale {scale}: "
                        f"give another --samples-dir, or pass --replace-full-report to replace it")


def new_folder(target):
    """A new, empty folder beside target, for the page being written (a unique name: a
    folder left by an earlier invocation never blocks the next one)."""
    parent, base = os.path.split(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{base}.writing-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's folder is private; the report's is not
    return tmp


@contextlib.contextmanager
def signals_held():
    """Ctrl-C and SIGTERM wait until the block is done (then they are delivered): a folder
    is never left half-moved."""
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def discard(tmp):
    """Remove a folder new_folder made (the page was not finished)."""
    with signals_held():
        shutil.rmtree(tmp, ignore_errors=True)


def put_in_place(new, target, shown, scale, replace_full):
    """Put the folder new in target's place. target is checked again first (a file may have
    appeared in it while the runs trained); the old report's files are removed one by one, by
    its manifest, so that anything else in it stays. Returns the old folder's new name when
    something appeared in it in between (it is kept), else None."""
    check_replaceable(target, shown, scale, replace_full)
    with signals_held():
        if not os.path.lexists(target) or not os.listdir(target):
            os.replace(new, target)  # onto an empty folder: rename(2) allows it
            return None
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=os.path.dirname(target))
        os.replace(target, old)
        os.replace(new, target)
        files = (read_manifest(old) or {"files": {}})["files"]
        for name in [*files, MANIFEST]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(old, name))
        try:
            os.rmdir(old)
        except OSError:  # something appeared in it meanwhile: kept
            return old
    return None

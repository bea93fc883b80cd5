"""Stress test of issue 15: kill real training runs at random moments, resume them, and check
that each finished run is bit-identical to one that nothing disturbed.

    python tools/kill_and_resume.py [--seed 0] [--kills 100] [--signal-tries 20] [--jobs 2]

Each trial is a small run (a cell, with or without --val-frac, a single run or a --seeds
group) that is stopped one to three times (kill -9 mostly, some SIGINT and SIGTERM, sent to the
trainer or to the --seeds parent alone) once loss.csv holds a chosen number of rows, and
started again each time with the same command and --resume, until it is done. The finished
run must equal an undisturbed run of the same command: every checkpoint field (weights,
Adagrad memories, state, counters), loss.csv, samples.txt and val.csv, byte for byte.

Then, --signal-tries times, a --seeds group of three is sent SIGINT or SIGTERM (its parent
alone, at a random moment, half of them started with SIGINT ignored as a shell's & job is):
it must stop with 130 or 143, every seed saved or not started, none FAILED.

The plan (each trial's options, signals and moments) follows from --seed; where a kill lands
depends on timing too, so each failure is printed with the command that replays its trial.
"""
import argparse
import concurrent.futures
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "min_char_rnn.py")
sys.path.insert(0, ROOT)
TEXT = ("the quick brown fox jumps over the lazy dog.\n"
        "she sells sea shells by the sea shore, and the shells she sells are sea shells.\n"
        "ROMEO: what light through yonder window breaks?\n") * 20
ITERS = 1500
SMALL = ["--hidden-size", "16", "--seq-length", "10", "--sample-every", "50", "--sample-length", "30",
         "--log-every", "10", "--print-interval", "1e9", "--iters", str(ITERS), "--checkpoint-every", "50"]
ROWS = ITERS // 10 + 1
RUN_FILES = ("loss.csv", "samples.txt", "val.csv")
GROUP_SEEDS = ("1", "2")


def options(cell, val):
    return [*SMALL, "--cell", cell, *(["--val-frac", "0.1", "--eval-every", "100"] if val else [])]


def plan_trials(seed, kills):
    """Trials, each (number, cell, val, group, [(signal, rows to wait for, extra delay)]), with
    at least `kills` stops in all."""
    rng = random.Random(seed)
    trials, planned = [], 0
    while planned < kills:
        i = len(trials)
        cell, val = ("rnn", "lstm", "gru")[i % 3], bool(i // 3 % 2)
        group = i % 5 == 4
        stops = []
        for _ in range(rng.choice((1, 2, 3))):
            sig = rng.choices((signal.SIGKILL, signal.SIGINT, signal.SIGTERM), (7, 1.5, 1.5))[0]
            stops.append((int(sig), rng.randrange(1, ROWS - 10), rng.uniform(0, 0.05)))
        trials.append((i, cell, val, group, stops))
        planned += len(stops)
    return trials


def run(args, **kwargs):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=300, **kwargs)


def rows_in(folder):
    try:
        with open(os.path.join(folder, "loss.csv"), "rb") as f:
            return f.read().count(b"\n") - 1
    except OSError:
        return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_once(command, watch, stop):
    """Start command, stop it once loss.csv in watch holds the chosen rows; (landed, exit code,
    output). landed is False when the run ended before the stop came. The rows are counted
    from the first line the command prints (a resumed run has cut its files back by then)."""
    sig, rows, delay = stop
    p = subprocess.Popen([sys.executable, SCRIPT, *command], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    first = p.stdout.readline()
    while p.poll() is None and rows_in(watch) < rows:
        time.sleep(0.005)
    time.sleep(delay)
    kids = children(p.pid)
    landed = p.poll() is None
    if landed:
        p.send_signal(sig)
    out = first + p.communicate(timeout=300)[0]
    end = time.time() + 120
    while any(map(alive, kids)) and time.time() < end:  # a --seeds group's runs save and end
        time.sleep(0.01)
    return landed, p.returncode, out


def digest(folder):
    """What must be bit-identical: every checkpoint field and every run file."""
    import numpy as np
    out = {}
    with np.load(os.path.join(folder, "checkpoint.npz")) as z:
        for k in sorted(z.files):
            a = z[k]
            out[k] = (str(a.dtype), a.shape, hashlib.sha256(a.tobytes()).hexdigest())
    for name in RUN_FILES:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


class Stress:
    def __init__(self, work, text):
        self.work, self.text = work, text
        self.references = {}

    def reference(self, cell, val, seed):
        key = (cell, val, seed)
        if key not in self.references:
            folder = os.path.join(self.work, "ref", f"{cell}-{int(val)}-{seed}")
            r = run([self.text, *options(cell, val), "--seed", seed, "--out", folder])
            if r.returncode:
                raise RuntimeError(f"the undisturbed run {key} failed: {r.stdout}{r.stderr}")
            self.references[key] = digest(folder)
        return self.references[key]

    @staticmethod
    def resume(group, folders):
        """--resume, or nothing where a single run was stopped before its first checkpoint
        (then the trainer says to start the run without --resume; a --seeds group starts such a
        seed by itself)."""
        started = group or os.path.exists(os.path.join(folders["1"], "checkpoint.npz"))
        return ["--resume"] if started else []

    def trial(self, trial):
        """(stops that landed, starts again without --resume, list of problems) of one trial."""
        i, cell, val, group, stops = trial
        out = os.path.join(self.work, f"trial-{i}")
        if group:
            command = [self.text, *options(cell, val), "--seeds", *GROUP_SEEDS, "--jobs", "2", "--out", out]
            folders = {s: os.path.join(out, f"seed-{s}") for s in GROUP_SEEDS}
        else:
            command = [self.text, *options(cell, val), "--out", out]
            folders = {"1": out}
        watch = next(iter(folders.values()))
        landed, restarts, problems = 0, 0, []
        for k, stop in enumerate(stops):
            resume = self.resume(group, folders)
            restarts += k > 0 and not resume
            hit, code, output = stop_once(command + resume, watch, stop)
            landed += hit
            allowed = {0, -signal.SIGKILL, 128 + signal.SIGINT, 128 + signal.SIGTERM}
            if code not in allowed or "Traceback" in output or "FAILED" in output:
                problems.append(f"stopped by {signal.Signals(stop[0]).name}: exit {code}: {output[-400:]}")
        resume = self.resume(group, folders)
        restarts += not resume
        r = run(command + resume)
        if r.returncode:
            problems.append(f"--resume: exit {r.returncode}: {(r.stdout + r.stderr)[-400:]}")
        for s, folder in folders.items():
            try:
                got = digest(folder)
            except OSError as e:
                problems.append(f"seed {s}: {e}")
                continue
            want = self.reference(cell, val, s)
            differ = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
            if differ:
                problems.append(f"seed {s}: differs from the undisturbed run in {', '.join(differ)}")
        shutil.rmtree(out, ignore_errors=True)
        return landed, restarts, problems


def describe(trial):
    i, cell, val, group, stops = trial
    what = ", ".join(f"{signal.Signals(s).name} at row {r}" for s, r, _ in stops)
    return (f"trial {i}: {cell}{' --val-frac 0.1' if val else ''}"
            f"{' --seeds ' + ' '.join(GROUP_SEEDS) if group else ''}: {what}")


def signal_try(work, text, k, rng):
    """A --seeds group of three, stopped by SIGINT or SIGTERM sent to its parent alone; a
    problem, or None."""
    sig = rng.choice((signal.SIGINT, signal.SIGTERM))
    ignored, early = rng.random() < 0.5, rng.random() < 0.5
    delay = rng.uniform(0, 0.4) if early else rng.uniform(0.05, 2.5)
    out = os.path.join(work, f"group-{k}")
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored else None
    p = subprocess.Popen([sys.executable, SCRIPT, text, "--hidden-size", "16", "--iters", "1000000",
                          "--seeds", "1", "2", "3", "--jobs", "3", "--checkpoint-every", "50",
                          "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=pre)
    if early:  # counted from the group's first line, when its children start
        p.stdout.readline()
    time.sleep(delay)
    p.send_signal(sig)
    what = (f"try {k}: {sig.name}{' (SIGINT ignored)' if ignored else ''} "
            f"{delay:.2f} s after the {'first line' if early else 'start'}")
    try:
        o, e = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        for kid in children(p.pid):
            os.kill(kid, signal.SIGKILL)
        p.kill()
        p.communicate()
        return f"{what}: did not end within 60 s"
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if p.returncode != 128 + sig or "FAILED" in o or "Traceback" in e:
        return f"{what}: exit {p.returncode}: {(o + e)[-400:]}"
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--seed", type=int, default=0, help="seed of the plan (default 0)")
    ap.add_argument("--kills", type=int, default=100, help="stops to plan in all (default 100)")
    ap.add_argument("--signal-tries", type=int, default=20,
                    help="--seeds groups stopped by SIGINT or SIGTERM (default 20; 0: none)")
    ap.add_argument("--jobs", type=int, default=2, help="trials side by side (default 2)")
    ap.add_argument("--only", type=int, nargs="+", metavar="TRIAL", help="replay these trials only")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    work = tempfile.mkdtemp(prefix="kill_and_resume-")
    text = os.path.join(work, "text.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.write(TEXT)
    trials = plan_trials(args.seed, args.kills)
    if args.only is not None:
        trials = [t for t in trials if t[0] in args.only]
    stress = Stress(work, text)
    for key in {(t[1], t[2], s) for t in trials for s in (GROUP_SEEDS if t[3] else ("1",))}:
        stress.reference(*key)  # before any timing-sensitive trial
    failures, landed, restarts, planned = [], 0, 0, sum(len(t[4]) for t in trials)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for trial, (hits, again, problems) in zip(trials, pool.map(stress.trial, trials)):
            landed, restarts = landed + hits, restarts + again
            if problems:
                failures.append((trial, problems))
    print(f"{len(trials) - len(failures)} of {len(trials)} trials resumed bit-identically, after "
          f"{landed} stops that landed mid-run ({planned} planned; the others came after the run "
          f"had ended); {restarts} times no checkpoint had been written yet and "
          f"the command was started again without --resume, as the trainer advises")
    for trial, problems in failures:
        print(f"FAILED {describe(trial)}; replay: python tools/kill_and_resume.py --seed {args.seed} "
              f"--kills {args.kills} --signal-tries 0 --only {trial[0]}")
        for problem in problems:
            print(f"    {problem}")
    bad = []
    if args.signal_tries:
        rng = random.Random(f"{args.seed}-signals")
        bad = [p for p in (signal_try(work, text, k, rng) for k in range(args.signal_tries)) if p]
        print(f"{args.signal_tries - len(bad)} of {args.signal_tries} --seeds groups stopped by SIGINT "
              f"or SIGTERM ended cleanly (130 or 143, no seed FAILED)")
        for problem in bad:
            print(f"FAILED {problem}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    return 1 if failures or bad else 0


if __name__ == "__main__":
    sys.exit(main())

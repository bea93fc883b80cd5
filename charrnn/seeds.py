"""--seeds: one training run per seed, in parallel child processes (charrnn.pool), each exactly
the single-seed command; then a table of their final and lowest smoothed losses."""
import math
import os
import time

from charrnn.checkpoint import load_checkpoint
from charrnn.logs import bits_per_char, last_row, read_log
from charrnn.options import HPARAM_DEFAULTS, ITERS_DEFAULT, given_hparams, spec_of
from charrnn.pool import Job, Pool
from charrnn.prepare import check_training_memory, trainer_command
from charrnn.run import progress
from charrnn.runfolder import checkpoint_path, own_run_dir, seed_folder
from charrnn.system import UserError, fail, format_seconds
from charrnn.text import read_corpus, text_file_for_children


def run_seeds(args):
    """Train every seed of --seeds, at most --jobs at a time, into OUT/seed-<s>; exit code."""
    with text_file_for_children(args.text) as text_path:  # a pipe is copied: read once
        corpus = read_corpus(text_path, args.encoding)  # a bad text fails once, before anything starts
        return SeedGroup(args, text_path, len(corpus.chars)).run()


class SeedGroup:
    """The runs of one --seeds command, with what each ended as."""

    def __init__(self, args, text_path, vocab_size):
        self.args, self.seeds = args, list(dict.fromkeys(args.seeds))
        self.jobs = min(args.jobs or os.cpu_count() or 1, len(self.seeds))
        self.out_root = args.out or "runs"
        if args.resume:  # a seed that never started takes the group's options from a started one
            started = [c for c in map(self.checkpoint_of, self.seeds) if os.path.exists(c)]
            state = load_checkpoint(started[0]) if started else None
            for k, v in (state["hparams"].items() if state else ()):
                if k != "seed" and getattr(args, k) is None:
                    setattr(args, k, v)
            if state and args.iters is None and state["iters"] is not None:
                args.iters = state["iters"]
        self.iters = ITERS_DEFAULT if args.iters is None else args.iters
        self.hp = {**HPARAM_DEFAULTS, **given_hparams(args)}
        check_training_memory(spec_of(self.hp, vocab_size), self.hp["seq_length"], self.jobs)
        own_run_dir(self.out_root, "running a --seeds group there")  # one group per folder
        self.common = [text_path, "--iters", str(self.iters), "--encoding", args.encoding,
                       "--checkpoint-every", str(args.checkpoint_every), "--print-interval", "1e9"]
        for k, v in given_hparams(args).items():
            if k != "seed":
                self.common += [f"--{k.replace('_', '-')}", str(v)]
        self.outcomes = {}

    def run_dir(self, s):
        return seed_folder(self.out_root, s)

    def checkpoint_of(self, s):
        return checkpoint_path(self.run_dir(s))

    def resume_command(self):
        """The exact command that continues the group (each seed's options are in its checkpoint)."""
        out = [] if self.args.out is None else ["--out", self.args.out]
        encoding = [] if self.args.encoding == "utf-8" else ["--encoding", self.args.encoding]
        return trainer_command(self.args.text, "--seeds", *self.seeds, "--resume", *out,
                               "--iters", self.iters, *encoding)

    def command(self, s):
        cmd = [*self.common, "--seed", str(s), "--out", self.run_dir(s)]
        if self.args.resume and os.path.exists(self.checkpoint_of(s)):
            cmd.append("--resume")  # a seed that never started simply starts
        return [cmd]

    def run(self):
        t_start = time.perf_counter()
        self.pool = Pool([Job(s, self.command(s)) for s in self.seeds], self.jobs, self.on_event,
                         self.args.status_interval)
        stop = self.pool.run()
        groups = self.groups()
        print(f"after {format_seconds(time.perf_counter() - t_start)}: "
              + "; ".join(f"{k}: seed {', '.join(map(str, v))}" for k, v in groups.items() if v)
              + (f"; continue with: {self.resume_command()}" if stop else ""), flush=True)
        # a failed seed's folder may hold another run: its figures are left out
        table = seeds_table({s: os.path.join(self.run_dir(s), "loss.csv") for s in self.seeds
                             if s not in groups["FAILED"]}, self.hp["seq_length"], self.iters)
        if table:
            print(table, flush=True)
        if groups["FAILED"]:
            return fail("min_char_rnn.py", f"seed {', '.join(map(str, groups['FAILED']))} failed "
                                           f"(the reason is above)")
        return 128 + stop if stop else 0

    def on_event(self, kind, job):
        if kind == "begin":
            print(f"training seeds {', '.join(map(str, self.seeds))} in {self.jobs} parallel processes "
                  f"into {self.out_root}/seed-<s>/", flush=True)
        elif kind == "end":
            outcome = self.outcomes[job.name] = job.outcomes[-1]
            words = {"trained": "finished", "finished before": "already finished before, nothing to do",
                     "stopped": outcome["message"], "failed": f"FAILED: {outcome['message']}"}
            print(f"seed {job.name}: {words[outcome['status']]}", flush=True)
        elif kind == "status":
            now = time.perf_counter()
            for running in self.pool.running:
                row = last_row(os.path.join(self.run_dir(running.name), "loss.csv"))
                print(f"seed {running.name}: " + (progress(int(row["iteration"]), float(row["smooth_loss"]),
                                                           self.hp["seq_length"],
                                                           self.iters, running.n0, running.t0, now)
                                                  if row else "starting"), flush=True)

    def groups(self):
        """The seeds by how they ended; a seed stopped before it saved counts as not started."""
        saved = {s for s in self.seeds if os.path.exists(self.checkpoint_of(s))}
        status = {s: self.outcomes[s]["status"] for s in self.seeds if s in self.outcomes}
        return {"finished": [s for s in self.seeds if status.get(s) in ("trained", "finished before")],
                "stopped, checkpoint saved": [s for s in self.seeds
                                              if status.get(s) == "stopped" and s in saved],
                "FAILED": [s for s in self.seeds if status.get(s) == "failed"],
                "not started": [s for s in self.seeds if s not in status
                                or (status[s] == "stopped" and s not in saved)]}


def seeds_table(loss_paths, seq_length, iters=0):
    """Each seed's final and lowest smoothed loss, per chunk and in bits per character, with
    the mean and spread over the seeds: the numbers a report needs. A run whose last row is
    short of iters (it stopped part-way) is marked, since its figures are not final."""
    lines, finals = [], []
    for s, path in loss_paths.items():
        try:
            log = read_log(path)
            rows = list(zip(map(int, log["iteration"]), map(float, log["smooth_loss"])))
        except (UserError, KeyError, ValueError):
            continue  # a seed that never wrote a row is left out
        if rows:
            (it, final), (low_it, low) = rows[-1], min(rows, key=lambda r: r[1])
            finals.append(final)
            short = "  stopped part-way" if iters and it < iters - 1 else ""
            lines.append(f"{s:>6}  {final:9.2f} {bits_per_char(final, seq_length):7.3f}  {it:>9}  "
                         f"{low:9.2f} {bits_per_char(low, seq_length):7.3f}  {low_it:>9}{short}")
    if not lines:
        return ""
    head = (f"smoothed loss, a sum over {seq_length} characters, and bits per character:\n"
            f"{'seed':>6}  {'final':>9} {'bits':>7}  {'iteration':>9}  "
            f"{'lowest':>9} {'bits':>7}  {'iteration':>9}")
    mean = sum(finals) / len(finals)
    sd = math.sqrt(sum((x - mean) ** 2 for x in finals) / (len(finals) - 1)) if len(finals) > 1 else 0.0
    tail = (f"{'mean':>6}  {mean:9.2f} {bits_per_char(mean, seq_length):7.3f}  final smoothed loss over "
            f"{len(finals)} seeds: standard deviation {sd:.2f} ({bits_per_char(sd, seq_length):.3f} bits), "
            f"range {min(finals):.2f} to {max(finals):.2f}")
    return "\n".join([head, *lines, tail])

"""Greedy vs multinomial decoding: what does always taking the most likely character do to
a generated text, compared with drawing from the model's distribution at T = 0.5 and 1.0?
How often, and after how long, does greedy text fall into a loop, and why?

Runs: the trained models of the exercise (exercise/seed-N) and the LSTM and GRU of
cells/<cell>/seed-1; nothing is trained for this section.
Writes: decoding.csv (one row per model, prime and decoding: where the text falls into a loop,
distinct word 4-grams, known words, the model's surprise at its own text), decoding-loops.csv
(per model and decoding, over the primes; on the T = 1.0 rows also the model's bits per
character on real text), forgetting.csv (how fast two states fed the same characters come
together, beside where the greedy texts loop) and decoding-samples.md (every text).
"""
import inspect
import math
import os

import numpy as np

import analysis as a
import min_char_rnn as m
from charrnn.logs import bits_per_char
from charrnn.model import CELLS, cell_module
from charrnn.sampling import generate, primed_state
from charrnn.text import build_vocab, heldout_blocks, split_heldout
from report_sections.page import code_block, f2, md_table
from report_sections.runs import checkpoint


NAME = "decoding"
HEADING = "Greedy vs multinomial decoding of the same models"
CONTENTS = "Greedy vs multinomial decoding"

DECODINGS = [("greedy", "greedy", 1.0), ("T = 0.5", "multinomial", 0.5),
             ("T = 1.0", "multinomial", 1.0)]
COLUMNS = ["model", "prime", "decoding", "loop starts at character", "loop period", "loop",
           "share of distinct word 4-grams", "share of words in the training text",
           "bits per character the model gives its own text"]
LOOPS = ["model", "decoding", "texts", "texts that loop", "median start of the loop",
         "shortest period", "longest period", "mean share of words in the training text",
         "mean bits per character, own text", "real-text bits per character"]
FORGET = 1e-6  # two states count as the same once their distance is this share of the first one
FORGET_TEXT = f"{FORGET:g}".replace("e-0", "e-")  # as written on the page and in forgetting.csv: 1e-6
FORGETTING = ["model", f"steps until the distance is {FORGET_TEXT} of the first", "factor per step",
              "greedy texts", "greedy texts that loop", "earliest loop start", "latest loop start",
              "greedy loops that start before the states agree", "distinct cycles among the greedy loops"]
REAL_FRAC = 0.1  # real text: this last share of the training file
LOOP_RULE = {k: v.default for k, v in inspect.signature(a.find_loop).parameters.items()
             if k in ("min_repeats", "min_length")}


def primes_from(text, k):
    """k different primes from the text itself (so every character is in the vocabulary): the
    first new line of at least 4 characters after each of k evenly spaced positions, at most
    16 characters of it."""
    lines = [ln[:16] for ln in text.split("\n") if len(ln.strip()) >= 4] or [text[:4]]
    starts = np.cumsum([0] + [len(ln) + 1 for ln in text.split("\n") if len(ln.strip()) >= 4])
    primes = []
    for i in range(k):
        j = int(np.searchsorted(starts, i * len(text) // k)) % len(lines)
        for step in range(len(lines)):  # the next line not taken yet (all taken: a repeat)
            if lines[(j + step) % len(lines)] not in primes:
                j = (j + step) % len(lines)
                break
        primes.append(lines[j])
    return primes


def section(plan, out):
    """(page text, summary line) of the decoding comparison."""
    s = plan.s
    models = [(f"vanilla, seed {seed}", plan.path("exercise", f"seed-{seed}")) for seed in s["seeds"]]
    models += [(CELLS[cell], plan.path("cells", cell, f"seed-{s['cell_seeds'][0]}"))
               for cell in ("lstm", "gru")]
    primes = primes_from(plan.text, s["primes"])
    rows, texts, forgetting, real, info = [], [], [], {}, {}
    for name, run in models:
        state = checkpoint(run)
        info[name] = dict(n=int(state["n"]), val_frac=float(state["hparams"].get("val_frac") or 0.0))
        real[name] = real_text_bits(plan, state)
        for prime in primes:
            for row, text in decode(state, prime, s["greedy_length"], plan.vocabulary):
                rows.append([name, prime, *row])
                texts.append((name, prime, row[0], text))
        # fed to both states: the greedy text of this model from the last prime, without the prime
        fed = next(t for n, p, lab, t in texts if n == name and p == primes[-1] and lab == "greedy")
        k, factor = forgetting_steps(state, primes, fed[len(primes[-1]):])
        forgetting.append([name, k, factor, *loop_timing([r for r in rows if r[0] == name
                                                          and r[2] == "greedy"], k)])
    out.csv("decoding.csv", COLUMNS, rows)
    loops = loop_rows(models, rows, s["greedy_length"], real)
    out.csv("decoding-loops.csv", LOOPS, loops)
    out.csv("forgetting.csv", FORGETTING, forgetting)
    out.text("decoding-samples.md", samples_document(texts, s["greedy_length"]))
    first = [t for n, p, _, t in texts if n == models[0][0] and p == primes[0]]
    page = page_text(plan, (models, primes, info), loops, forgetting, first)
    greedy = [r for r in loops if r[1] == "greedy"]
    summary = (f"  greedy texts that loop: {sum(r[3] for r in greedy)} of {sum(r[2] for r in greedy)}; "
               f"multinomial: {sum(r[3] for r in loops if r[1] != 'greedy')} of "
               f"{sum(r[2] for r in loops if r[1] != 'greedy')}")
    return page, summary


def decode(state, prime, length, vocabulary):
    """Generate length characters from a model and a prime each way of DECODINGS (sampling
    seed 1); for each, a row of decoding.csv without the model and prime, and the text."""
    cell = cell_module(state["hparams"]["cell"])
    index = {c: i for i, c in enumerate(state["chars"])}
    for label, strategy, temperature in DECODINGS:
        prime_used, pieces = generate(state, prime, length, strategy, temperature, seed=1)
        generated = "".join(pieces)
        text, given = prime_used + generated, len(prime_used)
        loop = a.find_loop(generated)
        ws = a.words(generated)
        bits = a.self_bits_per_char(cell, state["params"], [index[c] for c in text], given)
        row = [label, loop[0] if loop else float("nan"), loop[1] if loop else float("nan"),
               generated[loop[0]:loop[0] + loop[1]] if loop else "",
               a.distinct_ngram_share(ws, 4), a.known_word_share(ws, vocabulary), bits]
        yield row, text


def forgetting_steps(state, primes, text):
    """How fast the model forgets where it started: the states after the first two primes, fed
    the same characters (text), come together; (steps until their distance is FORGET of the
    first step's, nan if not within the text; the per-step factor fitted over those steps)."""
    cell = cell_module(state["hparams"]["cell"])
    index = {c: i for i, c in enumerate(state["chars"])}
    starts = [primed_state(state, p)[0] for p in primes[:2]]
    d = a.state_distances(cell, state["params"], starts, [index[c] for c in text])
    if d[0] == 0:  # the same state: nothing to forget
        return float("nan"), float("nan")
    below = np.flatnonzero(d <= FORGET * d[0])
    k = int(below[0]) + 1 if len(below) else float("nan")
    fit_to = int(below[0]) if len(below) else len(d) - 1
    factor = a.decay_per_step(np.arange(fit_to + 1), np.maximum(d[:fit_to + 1], 1e-300), 0, fit_to) \
        if fit_to > 0 else float("nan")
    return k, factor


def has_loop(start):
    """Whether a row's "loop starts at character" holds a loop (nan: none)."""
    return start is not None and not math.isnan(start)


def loop_timing(greedy, k):
    """Of a model's greedy rows of decoding.csv and the steps k its two states need to agree
    (nan: never, within the text): (texts, texts that loop, earliest and latest loop start (nan
    if none), loops that start before the states agree (all of them if they never do), distinct
    cycles among the loops (the same cycle entered at another point counts once))."""
    starts = [r[3] for r in greedy if has_loop(r[3])]
    before = sum(math.isnan(k) or st < k for st in starts)
    cycles = {min(c[i:] + c[:i] for i in range(len(c))) for c in (r[5] for r in greedy if has_loop(r[3]))}
    return (len(greedy), len(starts), min(starts) if starts else float("nan"),
            max(starts) if starts else float("nan"), before, len(cycles))


def real_text_bits(plan, state):
    """Bits per character the model gives the last REAL_FRAC of the text, read as the trainer
    reads held-out text (held out for the cells' runs; trained on by the exercise's)."""
    _, data = build_vocab(plan.text, state["chars"])
    _, val = split_heldout(data, REAL_FRAC)
    nats = m.heldout_loss(heldout_blocks(val), state["params"], cell_module(state["hparams"]["cell"]))
    return bits_per_char(nats, len(val) - 1)


def loop_rows(models, rows, length, real):
    """Rows of decoding-loops.csv: per model and decoding, over its primes; the real-text bits
    per character (real, per model) on the T = 1.0 rows."""
    out = []
    for name, _ in models:
        for label, _, _ in DECODINGS:
            mine = [r for r in rows if r[0] == name and r[2] == label]
            loops = [(r[3], r[4]) if has_loop(r[3]) else None for r in mine]
            n, start, lo, hi = a.loop_summary(loops, length)
            out.append([name, label, len(mine), n, start, lo, hi, float(np.nanmean([r[7] for r in mine])),
                        float(np.mean([r[8] for r in mine])),
                        real[name] if label == "T = 1.0" else float("nan")])
    return out


def samples_document(texts, length):
    """decoding-samples.md: every generated text, under its model, prime and decoding."""
    doc = [f"# Greedy vs multinomial: every generated text\n\nEach starts from its prime and a "
           f"zero state; {length} generated characters; multinomial draws with sampling seed 1.\n"]
    doc += [f"## {n}, prime {p!r}, {lab}\n\n{code_block(t)}\n" for n, p, lab, t in texts]
    return "\n".join(doc)


def joined(items):
    """"a", "a and b", "a, b and c"; a model's name without its comma ("vanilla seed 1")."""
    items = [i.replace("vanilla, seed", "vanilla seed") for i in items]
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]


def section_ref(module, fallback):
    """"section N" for a module of report.py's SECTIONS on the page, else fallback."""
    from report import SECTIONS  # here: report.py imports this module's package first
    return f"section {SECTIONS.index(module) + 1}" if module in SECTIONS else fallback


def loops_markdown(loops):
    md = [[r[0], r[1], f"{r[3]} of {r[2]}", f2(r[4], 0), f"{r[5]}" if r[3] else "",
           f"{r[6]}" if r[3] else "", f2(r[7]), f2(r[8]), f2(r[9]) if r[1] == "T = 1.0" else ""]
          for r in loops]
    return md_table(["model", "decoding", "texts that loop", "median start of the loop",
                     "shortest period", "longest period", "words in training text", "bits/char, own text",
                     "bits/char, real text"], md)


def loop_starts(r):
    """A forgetting row's loop starts, in words: none, one place, or a range."""
    return "none" if not r[4] else f"{r[5]}" if r[5] == r[6] else f"{r[5]}-{r[6]}"


def forgetting_markdown(forgetting):
    md = [[r[0], f2(r[1], 0), f2(r[2], 3), f"{r[4]} of {r[3]}", loop_starts(r),
           f"{r[7]} of {r[4]}" if r[4] else "", r[8] if r[4] else ""] for r in forgetting]
    return md_table(["model", f"characters until the distance is {FORGET_TEXT} of the first",
                     "distance factor per step",
                     "greedy texts that loop", "loops start at character",
                     "loops that start before the states agree", "distinct cycles among them"], md)


def iterations_text(info, names):
    """The iterations the named models trained, in words."""
    ns = [info[n]["n"] for n in names]
    if len(set(ns)) == 1:
        return f"{ns[0]:,} iterations" + (" each" if len(ns) > 1 else "")
    return joined(f"{n:,}" for n in ns) + " iterations"


def models_text(plan, models, info):
    """Which models generate: the exercise's and section 4's, with their iterations."""
    seeds = plan.s["seeds"]
    ex, cells = [n for n, _ in models[:len(seeds)]], [n for n, _ in models[len(seeds):]]
    return (f"the {len(ex)} exercise models (vanilla RNN, seed{'s' if len(ex) > 1 else ''} "
            f"{joined(str(sd) for sd in seeds)}; {iterations_text(info, ex)}) and the {joined(cells)} of "
            f"{section_ref('lstm_gru_vs_vanilla', 'the cells comparison')} (seed {plan.s['cell_seeds'][0]} "
            f"only; {iterations_text(info, cells)})")


def page_text(plan, models_primes, loops, forgetting, first):
    """The section's text; first: the three texts of the first model and prime, as decoded."""
    models, primes, info = models_primes
    L, P = plan.s["greedy_length"], len(primes)
    return f"""\
**Which sampling strategy `sample` implements**: multinomial sampling. At each step it turns the
output scores y into probabilities, softmax(y), and draws the next character from them (the
classic code with `np.random.choice(range(vocab_size), p=p.ravel())`; this trainer draws the
same distribution by the Gumbel-max trick), then feeds the drawn character back in. Greedy
decoding instead takes the most probable character every time (`--strategy greedy`).

{len(models)} models generate {L:,} characters from each of {P} primes (lines of the training text:
{', '.join(f'`{p}`' for p in primes)})
and a zero state, three ways: greedy, and multinomial draws from softmax(y / T) at temperatures
0.5 and 1.0 (one draw each, sampling seed 1). The models:
{models_text(plan, models, info)}.
"Loop" is where a generated text becomes periodic to the end, the period repeated at least
{LOOP_RULE['min_repeats']} times and covering at least {LOOP_RULE['min_length']} characters; its start
counts from the first generated character after the prime (0: that one), its period is in
characters. The second-last column is how surprised the model is by its own text, -mean log2 p
per generated character (mean over the primes); the last, for T = 1.0, the same model's bits per
character on real text (see "Own text vs real text").

{loops_markdown(loops)}

{differ_text(loops, L)}

{why_loops_text(L, primes, forgetting)}

{own_vs_real_text(loops, info)}

{examples_text(plan, models, primes, first)}"""


def greedy_exceptions(by, names, others, col, greedy_best):
    """(how many models greedy beats every multinomial decoding in column col of the loop rows
    by (model, decoding), in words the models where it does not)."""
    out = []
    for n in names:
        g = by[n, "greedy"][col]
        lost = [o for o in others
                if not (g < by[n, o][col] if greedy_best == "lowest" else g > by[n, o][col])]
        if lost:
            vs = joined(f"{by[n, o][col]:.3f} at {o}" for o in lost)
            out.append(f"{joined([n])}: greedy {g:.3f} vs {vs}")
    note = f" (not in {'; '.join(out)})" if out else ""
    return len(names) - len(out), note


def differ_text(loops, L):
    """Whether greedy and multinomial texts differ: loops, own-text bits, real words, counted."""
    greedy = [r for r in loops if r[1] == "greedy"]
    sampled = [r for r in loops if r[1] != "greedy"]
    ng, Ng = sum(r[3] for r in greedy), sum(r[2] for r in greedy)
    ns, Ns = sum(r[3] for r in sampled), sum(r[2] for r in sampled)
    by = {(r[0], r[1]): r for r in loops}
    names = list(dict.fromkeys(r[0] for r in loops))
    others = [lab for lab, _, _ in DECODINGS[1:]]
    bits, bits_note = greedy_exceptions(by, names, others, 8, "lowest")
    words, words_note = greedy_exceptions(by, names, others, 7, "highest")
    t1_low = sum(by[n, "T = 1.0"][7] < min(by[n, o][7] for o in ["greedy"] + others if o != "T = 1.0")
                 for n in names)
    if ng * Ns != ns * Ng:
        verdict = "So yes, the results differ, to begin with in how often the text loops."
    else:
        verdict = "In how often the text loops, the results do not differ."
    M = len(names)
    return f"""{ng} of the {Ng} greedy texts fall into a loop, and {ns} of the {Ns} multinomial ones.
{verdict}
Greedy text has the fewest bits per character on its own text in {bits} of {M} models{bits_note},
and the largest share of words found in the training text in {words} of {M}{words_note};
at T = 1.0 that share is the lowest of the three decodings in {t1_low} of {M}. (All texts
and their word statistics: [decoding-samples.md](decoding-samples.md), [decoding.csv](decoding.csv),
[decoding-loops.csv](decoding-loops.csv).) A loop, once there, lasts to the end of the {L:,}
characters generated: that is as far as it is measured."""


def why_loops_text(L, primes, forgetting):
    """Why greedy text loops: determinism; and whether the network's forgetting brings the state
    back, compared with where the loops start."""
    converge = sum(not math.isnan(r[1]) for r in forgetting)
    lstm_state = "; for the LSTM, h and c together" if any(r[0] == CELLS["lstm"] for r in forgetting) else ""
    groups = {"before": [], "after": [], "mixed": [], "none": []}
    for r in forgetting:
        kind = "none" if not r[4] else "before" if r[7] == r[4] else "after" if r[7] == 0 else "mixed"
        groups[kind].append(r[0])
    said = []
    if groups["before"]:
        said.append(f"For {joined(groups['before'])}, every loop starts before the two states agree, or "
                    f"they never do.")
    if groups["after"]:
        said.append(f"For {joined(groups['after'])}, every loop starts when or after the states agree.")
    if groups["mixed"]:
        said.append(f"For {joined(groups['mixed'])}, some loops start before the states agree and some "
                    f"when or after.")
    same = [r[0] for r in forgetting if r[4] > 1 and r[8] == 1]
    if same:
        said.append(f"In {len(same)} of the {len(forgetting)} models ({joined(same)}) every prime's greedy "
                    f"text ends in the same cycle (entered at different points): by the time the loop "
                    f"starts, the prime no longer decides the text, which is forgetting of a kind.")
    said.append(f"Agreement to {FORGET_TEXT} is far stricter than greedy decoding needs (only the most "
                f"likely character must be the same), so the table neither shows forgetting to be the "
                f"cause of the loops nor rules it out.")
    if groups["none"]:
        said.append(f"For {joined(groups['none'])}, no greedy text loops.")
    return f"""**Why greedy text loops.** Greedy decoding is deterministic: the next character is a
function of the state, and the next state a function of the state and that character. So once the
state comes back near enough to one it had before that the same characters are again the most
likely, the text repeats what followed it then, and keeps repeating: a loop. Multinomial sampling
draws fresh randomness at every step, so the same state need not be followed by the same character.

Is it the network's forgetting (states fed the same characters come together) that brings the state
back? Per model, the two states after the primes `{primes[0]}` and `{primes[min(1, len(primes) - 1)]}`
are both fed the same {L:,} characters: that model's greedy text from the prime `{primes[-1]}`, without
the prime. After each character the distance between the two states is measured (the length of their
difference{lstm_state}), and the table counts the characters until it has fallen to
{FORGET_TEXT} of its value after the first character; below, "the states agree" means that point.
That happens within the {L:,} characters in {converge} of the {len(forgetting)} models (n/a: it does not); the
factor per step is fitted to the distance's fall over those characters (all {L:,} in an n/a row),
so a factor near 1 means the two states stay apart. Beside it, where that model's greedy texts loop:

{forgetting_markdown(forgetting)}

{chr(10).join(said)}
This is one pair of starting states and one fed text per model. (Data:
[forgetting.csv](forgetting.csv).)"""


def group_name(names):
    """A group of models in words: "the vanilla models (seeds 1, 2 and 3)", "the LSTM and GRU"."""
    prefix = "vanilla, seed "
    if len(names) > 1 and all(n.startswith(prefix) for n in names):
        return f"the vanilla models (seeds {joined([n[len(prefix):] for n in names])})"
    return joined(names) if len(names) == 1 and names[0].startswith(prefix) else "the " + joined(names)


def real_text_groups(vf):
    """Which real text each model is scored on, from its held-out share vf (per model): a
    sentence, the groups in the order of their first model."""
    kind = {n: "held-out" if f >= REAL_FRAC else "trained-on" if f == 0 else "partly held-out"
            for n, f in vf.items()}
    groups = {}
    for n in vf:
        groups.setdefault(kind[n], []).append(n)
    if len(groups) == 1:
        return f", {next(iter(groups))} text for every model."
    parts = [f"on {k} text for {group_name(ns)}" for k, ns in groups.items()]
    return (f", so real-text bits are {', '.join(parts[:-1])} and {parts[-1]}: not comparable between "
            f"those groups.")


def own_vs_real_text(loops, info):
    """Own-text vs real-text bits per character at T = 1.0: the signed differences, and which
    real text each model is scored on."""
    t1 = [r for r in loops if r[1] == "T = 1.0"]
    diffs = [(r[0], r[9] - r[8]) for r in t1]
    own_lower, real_lower = sum(d > 0 for _, d in diffs), sum(d < 0 for _, d in diffs)
    vf = {n: info[n]["val_frac"] for n, _ in diffs}
    return f"""**Own text vs real text.** At T = 1.0, real-text minus own-text bits per character:
{'; '.join(f'{joined([n])} {d:+.2f}' for n, d in diffs)}.
Own text scores lower in {own_lower} of the {len(diffs)} models, real text lower in {real_lower}.
The two measure different things: own-text bits estimate the model's own entropy (its text is
drawn from the distributions it predicts); real-text bits are the cross-entropy of real text
under the model, the text's entropy plus the Kullback-Leibler divergence from the text's
distribution to the model's. No sign of their difference follows from that. The real text is
the last {REAL_FRAC:.0%} of the training file{real_text_groups(vf)}
Each own-text number is from one draw per prime."""


def examples_text(plan, models, primes, first):
    """The three texts of the first model and prime, and how to make one by hand."""
    L = plan.s["greedy_length"]
    first_ckpt = os.path.join(models[0][1], "checkpoint.npz")
    shown = first[0][:L // 4] + (" [...]" if L > L // 4 else "")
    return f"""The greedy text of {models[0][0]} from `{primes[0]}` (its first {L // 4:,} characters),
then the two multinomial ones:

{code_block(shown)}

**multinomial, T = 0.5**

{code_block(first[1][:L // 4])}

**multinomial, T = 1.0**

{code_block(first[2][:L // 4])}

Reproduce: `{plan.args.report_cmd}` (this part: `analysis.find_loop`, `state_distances`,
`self_bits_per_char` on `charrnn.sampling.generate`), or one text by hand:

    python min_char_rnn.py --sample-from {first_ckpt} --strategy greedy --length {L} --prime "{primes[0]}"
"""

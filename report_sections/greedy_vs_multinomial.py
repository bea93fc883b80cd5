"""Greedy vs multinomial decoding: what does always taking the most likely character do to
a generated text, compared with drawing from the model's distribution at T = 0.5 and 1.0?
How often, and after how long, does greedy text fall into a loop, and why?

Runs: the trained models of the exercise (exercise/seed-N) and the LSTM and GRU of
cells/<cell>/seed-1; nothing is trained for this section.
Writes: decoding.csv (one row per model, prime and decoding: where the text falls into a loop,
distinct word 4-grams, known words, the model's surprise at its own text), decoding-loops.csv
(per model and decoding, over the primes), forgetting.csv (how fast two states fed the same
characters come together) and decoding-samples.md (every text).
"""
import math
import os

import numpy as np

import analysis as a
import min_char_rnn as m
from charrnn.cells import CELLS, cell_module
from charrnn.logs import bits_per_char
from charrnn.sampling import generate, primed_state
from charrnn.text import heldout_streams, split_heldout
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
         "mean bits per character, own text"]
FORGET = 1e-6  # two states count as the same once their distance is this share of the first one


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
    rows, texts, forgetting, real = [], [], [], {}
    for name, run in models:
        state = checkpoint(run)
        real[name] = real_text_bits(plan, state)
        for prime in primes:
            for row, text in decode(state, prime, s["greedy_length"], plan.vocabulary):
                rows.append([name, prime, *row])
                texts.append((name, prime, row[0], text))
        forgetting.append([name, *forgetting_steps(state, primes, texts[-3][3][len(primes[-1]):])])
    out.csv("decoding.csv", COLUMNS, rows)
    loops = loop_rows(models, rows, s["greedy_length"])
    out.csv("decoding-loops.csv", LOOPS, loops)
    out.csv("forgetting.csv", ["model", "steps until the distance is 1e-6 of the first",
                               "factor per step"], forgetting)
    out.text("decoding-samples.md", samples_document(texts, s["greedy_length"]))
    first = [t for n, p, _, t in texts if n == models[0][0] and p == primes[0]]
    page = page_text(plan, (models, primes), loops, (forgetting, real), first)
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
        row = [label, loop[0] if loop else "", loop[1] if loop else "",
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


def real_text_bits(plan, state):
    """Bits per character the model gives the last tenth of the text, read as the trainer reads
    held-out text (held out for the cells' runs; trained on by the exercise's)."""
    _, data = m.build_vocab(plan.text, state["chars"])
    _, val = split_heldout(data, 0.1)
    inputs, targets = heldout_streams(val)
    nats = m.heldout_loss(inputs, targets, state["params"], cell_module(state["hparams"]["cell"]))
    return bits_per_char(nats, int((targets >= 0).sum()))


def loop_rows(models, rows, length):
    """Rows of decoding-loops.csv: per model and decoding, over its primes."""
    out = []
    for name, _ in models:
        for label, _, _ in DECODINGS:
            mine = [r for r in rows if r[0] == name and r[2] == label]
            loops = [(r[3], r[4]) if r[3] != "" else None for r in mine]
            n, start, lo, hi = a.loop_summary(loops, length)
            out.append([name, label, len(mine), n, start, lo, hi, float(np.nanmean([r[7] for r in mine])),
                        float(np.mean([r[8] for r in mine]))])
    return out


def samples_document(texts, length):
    """decoding-samples.md: every generated text, under its model, prime and decoding."""
    doc = [f"# Greedy vs multinomial: every generated text\n\nEach starts from its prime and a "
           f"zero state; {length} generated characters; multinomial draws with sampling seed 1.\n"]
    doc += [f"## {n}, prime {p!r}, {lab}\n\n{code_block(t)}\n" for n, p, lab, t in texts]
    return "\n".join(doc)


def loops_markdown(loops, real):
    md = [[r[0], r[1], f"{r[3]} of {r[2]}", f2(r[4], 0), f"{r[5]}" if r[3] else "",
           f"{r[6]}" if r[3] else "", f2(r[7]), f2(r[8]),
           f"{real[r[0]]:.2f}" if r[1] == "T = 1.0" else ""] for r in loops]
    return md_table(["model", "decoding", "texts that loop", "median start of the loop",
                     "shortest period", "longest period", "words in training text", "bits/char, own text",
                     "bits/char, real text"], md)


def forgetting_markdown(forgetting):
    md = [[r[0], f2(r[1], 0), f"{r[2]:.3f}"] for r in forgetting]
    return md_table(["model", "characters until two states agree to 1e-6", "distance factor per step"], md)


def page_text(plan, models_primes, loops, measures, first):
    """The section's text; first: the three texts of the first model and prime, as decoded."""
    (models, primes), (forgetting, real) = models_primes, measures
    L, P = plan.s["greedy_length"], len(primes)
    greedy = [r for r in loops if r[1] == "greedy"]
    sampled = [r for r in loops if r[1] != "greedy"]
    t1 = [r for r in loops if r[1] == "T = 1.0"]
    gaps = [real[r[0]] - r[8] for r in t1]
    return f"""\
**Which sampling strategy `sample` implements**: multinomial sampling. At each step it turns the
output scores y into probabilities, softmax(y), and draws the next character from them (the
classic code with `np.random.choice(range(vocab_size), p=p.ravel())`; this trainer draws the
same distribution by the Gumbel-max trick), then feeds the drawn character back in. Greedy
decoding instead takes the most probable character every time (`--strategy greedy`).

Every trained model of this report generates {L:,} characters from each of {P} primes (lines of
the training text: {', '.join(f'`{p}`' for p in primes)}) and a zero state, three ways: greedy,
and multinomial draws from softmax(y / T) at temperatures 0.5 and 1.0 (sampling seed 1). "Loop"
is where a generated text becomes periodic to its end (at least three repeats, 20 characters),
with the period in characters. The second-last column is how surprised the model is by its own
text, -mean log2 p per generated character (mean over the primes); the last, for T = 1.0, the
same model's bits per character on real text, the last 10% of the training file (held out for
the LSTM and GRU, trained on by the vanilla seeds).

{loops_markdown(loops, real)}

{sum(r[3] for r in greedy)} of the {sum(r[2] for r in greedy)} greedy texts fall into a loop, and
{sum(r[3] for r in sampled)} of the {sum(r[2] for r in sampled)} multinomial ones. So yes, the results
differ: greedy text is made of the model's most likely characters (the fewest bits per character on
its own text) but repeats itself; multinomial text does not repeat, at the price of
misspelt words (the table's share of words found in the training text; all texts and their
word statistics:
[decoding-samples.md](decoding-samples.md), [decoding.csv](decoding.csv),
[decoding-loops.csv](decoding-loops.csv)). A loop, once there, lasts to the end of the {L:,}
characters generated: that is as far as it is measured.

{why_loops_text(L, forgetting)}

**Own text vs real text.** At T = 1.0 a model scores its own text {min(gaps):.2f} to {max(gaps):.2f}
bits per character lower than real text. That is expected, not a flaw: its own text is drawn from
exactly the distributions it predicts, so there is no mismatch between prediction and text; on real
text the cross-entropy adds the mismatch (the Kullback-Leibler divergence from the text's
distribution to the model's), which is never negative.

{examples_text(plan, models, primes, first)}"""


def why_loops_text(L, forgetting):
    """Why greedy text loops: the state forgets, measured."""
    converge = sum(not math.isnan(r[1]) for r in forgetting)
    return f"""**Why greedy text loops.** Greedy decoding is deterministic: the next character is a
function of the state, and the next state a function of the state and that character. The network also
forgets where it started: two states (after the first two primes) fed the same {L:,} characters
come together, by the factor per step below, until they agree to one part in a million, in
{converge} of the {len(forgetting)} models (n/a: not within the {L:,}
characters; a factor near 1 means the two states stay apart, each in a state of its own):

{forgetting_markdown(forgetting)}

Where they do, after that many characters the state depends, to that precision, only on the
characters just read, not on anything before them. When greedy decoding produces again a stretch of
text about that long, the state is again (nearly) what it was the first time, and the text
continues as it did the first time, and so on: a loop. Repeating some text alone would not do it:
the state is a vector of real numbers, and it is the forgetting (the same contraction that makes
the gradient vanish, section 5) that brings it back to where it was. Multinomial sampling draws
fresh randomness at every step, so the same stretch of text need not be followed by the same
character. (Data:
[forgetting.csv](forgetting.csv).)"""


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

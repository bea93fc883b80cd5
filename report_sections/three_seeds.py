"""The exercise: how does the vanilla RNN train at the classic defaults, how much do three
seeds differ, and which of its training samples are the favourites?

Runs: exercise/seed-1, seed-2, seed-3 (the vanilla RNN, exercise_iters iterations each).
Writes: exercise-loss.png (the three smoothed curves), exercise-loss-seed-N.png (one run's
chunk and smoothed loss), exercise-loss.csv, exercise-seeds.csv (final and lowest loss per
seed, mean and spread), exercise-correlation.csv (how closely the seeds' losses follow each
other), favourite-samples.csv (the last training samples, ranked by real words).
"""
import collections
import inspect
import os
import re

import numpy as np

import analysis as a
import min_char_rnn as m
from charrnn.logs import bits_per_char
from charrnn.text import build_vocab
from report_sections.page import STYLES, bpc_axis, code_block, f2, focus, md_table, plt, reproduce
from report_sections.runs import checkpoint, loss_columns, read_samples


NAME = "exercise"
HEADING = "The exercise: three seeds of the vanilla RNN"
CONTENTS = "The exercise: three seeds"
SMOOTHING = 0.999  # the smoothed loss's factor, as in min_char_rnn.py's training loop
CORRELATION_COLUMNS = ["run", "from iteration", "logged rows", "chunk loss, same iteration",
                       "chunk loss, first seed one logged row later (shift +1)",
                       "chunk loss, second seed one logged row later (shift -1)",
                       "smoothed loss, same iteration"]
MIN_WORDS = inspect.signature(a.rank_samples).parameters["min_words"].default  # as favourite_samples ranks
WORD_EXAMPLES = ("o'er", "'tis")  # shown on the page with the words analysis.words makes of them


def section(plan, out):
    """(page text, summary line) of the exercise."""
    runs = {seed: plan.path("exercise", f"seed-{seed}") for seed in plan.s["seeds"]}
    hp = checkpoint(runs[plan.s["seeds"][0]])["hparams"]
    T = hp["seq_length"]
    curves = {seed: loss_columns(run) for seed, run in runs.items()}
    figures = [overlay_figure(out, curves, hp)]
    figures += [seed_figure(out, seed, curve, T) for seed, curve in curves.items()]
    loss_csv(out, curves)
    table, stats = seed_table(curves, T)
    seeds_csv(out, table, stats, T)
    corr = correlations(curves)
    out.csv("exercise-correlation.csv", CORRELATION_COLUMNS, corr)
    ranked, seed_of = favourite_samples(plan, runs, hp)
    out.csv("favourite-samples.csv", ["sample", "share of words in the training text",
                                      "distinct known words", "words", "text"],
            [[n, sh, dk, nw, t] for n, t, sh, dk, nw in ranked])
    program, lengths = program_text(plan, runs)
    out.csv("fc-vs-rnn.csv", ["network", "characters of context", "parameters",
                              "bits per character of the next character"], lengths)
    page = program + "\n" + page_text(plan, hp, runs, figures, (table, stats), corr,
                                       pick_candidates(ranked, seed_of))
    (fm, fsd, _, _), _ = stats
    summary = (f"  exercise: final smoothed loss {fm:.2f} ± {fsd:.2f} ({bits_per_char(fm, T):.3f} "
               f"bits per character), mean ± sd of {len(runs)} seeds")
    return page, summary


def context_rows(plan, state, lengths=(3, 50), n=2000):
    """Rows of fc-vs-rnn.csv: the trained RNN's weights on contexts of each length (bits per
    character of the character after, at n positions of the text), beside the parameter count
    of a three-layer fully-connected network on that many one-hot characters."""
    V, H = len(state["chars"]), state["hparams"]["hidden_size"]
    _, data = build_vocab(plan.text, state["chars"])
    ends = np.linspace(max(lengths), len(data) - 2, min(n, len(data) - max(lengths) - 2)).astype(int)
    rows = []
    for length in lengths:
        bits = a.context_bits(m, state["params"], data, ends, length)
        rows.append(["vanilla RNN (the same trained weights)", length, a.rnn_parameters(V, H), bits])
    rows += [["fully-connected, 3 layers", length, a.fc_parameters([length * V, H, H, V]), float("nan")]
             for length in lengths]
    # the floor any context should beat: how often each character occurs in the text, no context
    freq = np.bincount(data, minlength=V) / len(data)
    rows.append(["character frequencies only (no context)", 0, V - 1,
                 float(-np.log2(freq[data[ends + 1]]).mean())])
    return rows, len(ends)


def program_text(plan, runs):
    """The exercise's questions on what lossFun and sample implement, and on an RNN on
    inputs of length 3 against a three-layer fully-connected network: (text, CSV rows)."""
    state = checkpoint(runs[next(iter(runs))])
    hp, chars = state["hparams"], state["chars"]
    V, H, T = len(chars), hp["hidden_size"], hp["seq_length"]
    rows, positions = context_rows(plan, state)
    shown = "".join(chars).replace("\n", "\\n").replace("`", "'")
    untrained = "not trained: parameter count only"
    md = md_table(["network", "characters of context", "parameters", "bits per character"],
                  [[r[0], r[1], f"{r[2]:,}", f2(r[3], 3) if r[3] == r[3] else untrained] for r in rows])
    held = hp.get("val_frac") or 0
    trained_on = ("all of which seed {} was trained on (nothing held out)" if not held else
                  f"of which seed {{}} was trained on all but the last {held:.0%}").format(next(iter(runs)))
    text = f"""\
**What `lossFun` implements**: a character-level, many-to-many vanilla (Elman) recurrent network
with one hidden layer of {H} tanh units: at every step t it reads one character x_t (one-hot),
updates h_t = tanh(Wxh x_t + Whh h_(t-1) + bh), and predicts the next character with
p_t = softmax(Why h_t + by). **Its vocabulary** is the set of distinct characters of
`{plan.args.text}`, {V} tokens, each one character: `{shown}` (\\n is the newline; the
space is among them). **Its loss** is the softmax cross-entropy, the negative log-likelihood of
the true next character, -log p_t[x_(t+1)], summed over the {T} characters of a chunk. It suits the
task because predicting the next character is a classification over {V} classes: the loss is
smallest exactly when the predicted distribution matches how often each character really follows
such a context, and in bits (divided by ln 2) it is the length of the text coded with the model:
the uniform guess costs log2({V}) = {np.log2(V):.2f} bits per character, where every curve below
starts. **The sampling strategy of `sample`** is multinomial: section 2.

**An RNN on inputs of length l = 3 against a fully-connected network with three layers.** Unrolled
over 3 characters the RNN is also three layers deep, but (1) it **shares its weights across
time**: the same Wxh, Whh, bh and Why at every step, so its parameter count does not depend on l,
while each layer of the fully-connected network has its own weights and its input layer grows with
l; and (2) it **reads the input one character per step and carries a state**, so the same weights
run on any length, and each step gives a prediction; the fully-connected network takes exactly l
characters at once, in its first layer only. In the table below, the same trained weights (seed
{next(iter(runs))}) read contexts of {rows[0][1]} and of {rows[1][1]} characters, each from a zero state, and
predict the character that follows at {positions:,} positions spread evenly over `{plan.args.text}`,
{trained_on}. The fully-connected network (hidden layers of {H} on l one-hot characters, {V} x l
inputs) is not trained: the table gives only its parameter count, to compare sizes.

{md}

{"More context lowers" if rows[1][3] < rows[0][3] else "More context does not lower"} the bits per
character ({rows[0][3]:.3f} after 3 characters, {rows[1][3]:.3f} after 50), with the same
{a.rnn_parameters(V, H):,} parameters. Both RNN rows start from a zero state, which the network meets in
training only at the start and when the data pointer wraps (it carries its state from chunk to
chunk). After 3 characters from it, the network scores {"worse" if rows[0][3] > rows[-1][3] else "better"}
than knowing only how often each character occurs ({rows[-1][3]:.3f}, the last row), possibly
because it starts from that unusual state (not tested here). Data:
[fc-vs-rnn.csv](fc-vs-rnn.csv).

"""
    return text, rows


def overlay_figure(out, curves, hp):
    """The smoothed loss of every seed in one figure."""
    T = hp["seq_length"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (seed, (it, _, smooth)) in enumerate(curves.items()):
        ax.plot(it, smooth, label=f"seed {seed}", linewidth=1.5, **STYLES[i % 4])
    ax.set(xlabel="iteration", ylabel=f"smoothed loss (sum over a {T}-character chunk, nats)",
           title=f"Vanilla RNN{', classic defaults' if hp['hidden_size'] == 100 else ''}: "
                 f"{len(curves)} seeds")
    ax.grid(True, alpha=0.3)
    ax.legend(title="run")
    focus(ax, next(iter(curves.values()))[0], *(c[2] for c in curves.values()))
    bpc_axis(ax, T)
    return out.figure(fig, "exercise-loss")


def seed_figure(out, seed, curve, T):
    """One run's chunk loss of every logged iteration, and its smoothed loss."""
    it, loss, smooth = curve
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(it, loss, color="0.75", linewidth=0.5, label="chunk loss (every logged iteration)")
    ax.plot(it, smooth, color="black", linewidth=1.5, label="smoothed loss")
    ax.set(xlabel="iteration", ylabel=f"loss (sum over a {T}-character chunk, nats)",
           title=f"Vanilla RNN, seed {seed}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    focus(ax, it, loss, smooth, percentiles=(0.5, 99.5))  # the raw loss's rare spikes may go off
    bpc_axis(ax, T)
    return out.figure(fig, f"exercise-loss-seed-{seed}")


def loss_csv(out, curves):
    """Every logged row of each run, side by side by iteration (empty where a run has none)."""
    all_it = sorted(set().union(*(set(c[0].tolist()) for c in curves.values())))
    cols = {seed: dict(zip(c[0].tolist(), zip(c[1], c[2])))
            for seed, c in curves.items()}
    rows = [[it] + [v for seed in curves for v in cols[seed].get(it, (float("nan"),) * 2)]
            for it in all_it]
    out.csv("exercise-loss.csv", ["iteration"] + [f"seed-{seed}-{k}" for seed in curves
                                                  for k in ("loss", "smooth_loss")], rows)


def seed_table(curves, T):
    """Rows (run, last iteration, final, its bpc, lowest, its bpc, iteration of lowest), and
    the spread (mean, sd, min, max) of the final and of the lowest smoothed losses."""
    table = []
    for seed, (it, _, smooth) in curves.items():
        final, low, low_it = a.curve_summary(it, smooth)
        table.append([f"seed {seed}", int(it[-1]), final, bits_per_char(final, T), low,
                      bits_per_char(low, T), low_it])
    return table, (a.spread([r[2] for r in table]), a.spread([r[4] for r in table]))


def seeds_csv(out, table, stats, T):
    (fm, fsd, _, _), (lm, lsd, _, _) = stats
    nan = float("nan")  # the summary rows have no iteration
    out.csv("exercise-seeds.csv", ["run", "last iteration", "final smoothed loss", "final bpc",
                                   "lowest smoothed loss", "lowest bpc", "iteration of lowest"],
            table + [["mean", nan, fm, bits_per_char(fm, T), lm, bits_per_char(lm, T), nan],
                     ["standard deviation", nan, fsd, bits_per_char(fsd, T), lsd,
                      bits_per_char(lsd, T), nan]])


def corr(x, y):
    """Pearson correlation of two series (nan for fewer than 3 values or a constant one)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def correlations(curves, share=0.05):
    """Rows of exercise-correlation.csv, one per pair of seeds, over the rows both logged after
    the first steep descent (the first `share` of the iterations, as the figure's y range): the
    correlation of their chunk losses at the same iteration (the same chunk of text), with one
    run a logged row later (another chunk; each run of the pair in turn the later one), and of
    their smoothed losses."""
    seeds = list(curves)
    last = max(int(c[0].max()) for c in curves.values())
    rows = []
    for i, s1 in enumerate(seeds):
        for s2 in seeds[i + 1:]:
            its = sorted(set(curves[s1][0].tolist()) & set(curves[s2][0].tolist()))
            its = [t for t in its if t >= share * last]
            col = {s: dict(zip(curves[s][0].tolist(), zip(curves[s][1], curves[s][2]))) for s in (s1, s2)}
            loss = {s: [col[s][t][0] for t in its] for s in (s1, s2)}
            smooth = {s: [col[s][t][1] for t in its] for s in (s1, s2)}
            rows.append([f"seed {s1} and seed {s2}", its[0] if its else float("nan"), len(its),
                         corr(loss[s1], loss[s2]), corr(loss[s1][1:], loss[s2][:-1]),
                         corr(loss[s1][:-1], loss[s2][1:]), corr(smooth[s1], smooth[s2])])
    return rows


def span(v):
    """The range of a few numbers, to two decimals ("0.93 to 0.94", or one number)."""
    lo, hi = min(v), max(v)
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f} to {hi:.2f}"


def together_text(corr_rows, table, every):
    """Whether the seeds' curves move together, from the correlations and the table."""
    if not corr_rows:
        return "One seed: nothing to compare it with."
    same, smooth = [r[3] for r in corr_rows], [r[6] for r in corr_rows]
    apart = [v for r in corr_rows for v in r[4:6]]  # both directions: either run of a pair later
    if any(v != v for v in same + apart + smooth):
        return "Too few logged rows to correlate the seeds' losses."
    text = (f"Two seeds' chunk losses at the same iteration (the same chunk: every run reads the text "
            f"in the same order) correlate with r = {span(same)} (smoothed losses: {span(smooth)}), but "
            f"one logged row apart ({every:,} iterations apart, so a different chunk; computed with each run "
            f"of the pair as the later one) "
            f"with r = {span(apart)} only "
            f"(logged rows from iteration {corr_rows[0][1]:,}, after the first steep descent). ")
    if min(same) > 0.5 and max(apart) < min(same) / 2:
        text += ("So the curves move together, and their bumps are harder and easier stretches of "
                 "the text, not noise of the seed")
    else:
        text += "So the bumps are not simply the text's: the seed shapes them too"
    lows = {r[6] for r in table}
    if len(table) > 1 and len(lows) == 1:
        text += f"; all {len(table)} runs reach their lowest smoothed loss at one iteration, {lows.pop():,}"
    return text + "."


def seeds_markdown(table, stats, T):
    (fm, fsd, fmin, fmax), (lm, lsd, lmin, lmax) = stats
    md_rows = [[r[0], f"{r[2]:.2f} ({r[3]:.3f})", f"{r[4]:.2f} ({r[5]:.3f})", f"{r[6]:,}"] for r in table]
    md_rows.append(["mean ± sd", f"{fm:.2f} ± {fsd:.2f} ({bits_per_char(fm, T):.3f} ± "
                                 f"{bits_per_char(fsd, T):.3f})",
                    f"{lm:.2f} ± {lsd:.2f} ({bits_per_char(lm, T):.3f} ± "
                    f"{bits_per_char(lsd, T):.3f})", ""])
    md_rows.append(["range", f"{fmin:.2f} to {fmax:.2f}", f"{lmin:.2f} to {lmax:.2f}", ""])
    return md_table(["run", "final smoothed loss (bpc)", "lowest smoothed loss (bpc)",
                     "iteration of lowest"], md_rows)


def favourite_samples(plan, runs, hp):
    """The last favourites_from training samples of each run, best first by their real words:
    [(name, text, share of known words, distinct known words, words)], and {name: seed}."""
    samples, seed_of = [], {}
    for seed, run in runs.items():
        got = read_samples(os.path.join(run, "samples.txt"), hp["sample_length"])[-plan.s["favourites_from"]:]
        for it, text in got:
            seed_of[f"seed {seed}, iteration {it:,}"] = seed
            samples.append((f"seed {seed}, iteration {it:,}", text))
    return a.rank_samples(samples, plan.vocabulary), seed_of


def pick_candidates(ranked, seed_of, k=3):
    """The k candidates: the best-ranked sample of each run first (so they come from different
    runs where there are k runs), then the next best; in rank order. Returns (candidates,
    whether they all come from different runs)."""
    chosen, seen = [], set()
    for r in ranked:
        if seed_of[r[0]] not in seen and len(chosen) < k:
            chosen.append(r)
            seen.add(seed_of[r[0]])
    chosen += [r for r in ranked if r not in chosen][:k - len(chosen)]
    chosen.sort(key=ranked.index)
    return chosen, len({seed_of[r[0]] for r in chosen}) == len(chosen)


def headings(text):
    """How often each speaker heading occurs in a text."""
    return collections.Counter(a.SPEAKER.findall(text))


def shows(text, known, vocabulary):
    """What a sample shows the model has learnt of a play's form, in words. known: the
    training text's headings and their counts; vocabulary: its words (lower-cased). A heading
    that is not one of the training text's is told apart by where its name occurs there: part
    of a heading (ANDREW in SIR ANDREW), a word of the text, or (some word of it) nowhere."""
    real, other, stage, lines = a.sample_features(text, known)
    said = [f"line structure: {lines} non-empty lines"]
    if real:
        said.append("speaker headings of the training text ("
                    + ", ".join(f"`{h}`, {known[h]:,} times there" for h in real) + ")")
    part, word, absent = [], [], []
    for h in other:
        within = [k for k in known if re.search(rf"(?<![A-Z']){re.escape(h)}(?![A-Z'])", k)]
        if within:
            k = max(within, key=lambda k: known[k])
            part.append(f"`{h}`, from the heading `{k}`, {known[k]:,} times there")
        elif all(w in vocabulary for w in a.words(h)):
            word.append(f"`{h}`")
        else:
            absent.append(f"`{h}`")
    if part:
        said.append("headings cut from the training text's (" + "; ".join(part) + ")")
    if word:
        said.append("headings of words of the training text, never a heading there (" + ", ".join(word) + ")")
    if absent:
        said.append("headings with a word found nowhere in the training text (" + ", ".join(absent) + ")")
    if stage:
        said.append("stage directions (" + ", ".join(f"`{d}`" for d in stage) + ")")
    if not (real or other):
        said.append("no speaker heading")
    return "; ".join(said) + "."


def word_rule():
    """What analysis.words counts as a word, in words, with its pattern and examples of what it
    makes of WORD_EXAMPLES."""
    shown = ", ".join(f"`{w}` gives " + (" and ".join(f"`{x}`" for x in a.words(w)) or "no word")
                      for w in WORD_EXAMPLES)
    return (f"the text lower-cased, then runs of the letters a to z that keep an apostrophe only between "
            f"two letters, as the pattern `{a.WORD.pattern}` of analysis.py finds them: {shown}")


def page_text(plan, hp, runs, figures, seeds, corr_rows, candidates):
    T, k = hp["seq_length"], plan.s["favourites_from"]
    overlay, singles = figures[0], figures[1:]
    table, stats = seeds
    chosen, distinct = candidates
    settings = "classic defaults" if hp["hidden_size"] == 100 else "settings"
    images = "\n\n".join(f"![Run {i + 1}]({f})" for i, f in enumerate(singles))
    known = headings(plan.text)
    fav = "\n\n".join(f"**{n}**: {sh:.0%} of its {nw} words occur in the training text ({dk} distinct)"
                      f"\n\n{code_block(t)}\n\nWhat it shows: {shows(t, known, plan.vocabulary)}"
                      for n, t, sh, dk, nw in chosen)
    if not chosen:
        fav = f"_No sample had {MIN_WORDS} words or more._"
    how = ("the best-scoring sample of each run" if distinct and len(chosen) == len(runs)
           else "the best-scoring samples, at most one per run until every run has one")
    V = len(set(plan.text))
    return f"""\
{len(runs)} runs of {plan.s['exercise_iters']:,} iterations of the vanilla RNN at the {settings}
(hidden size {hp['hidden_size']}, {T} characters per chunk, learning rate {hp['learning_rate']}),
seeds {', '.join(map(str, runs))}, on `{plan.args.text}`. The smoothed loss is an exponential moving
average of the chunk loss (the loss summed over one iteration's {T}-character chunk): at every
iteration smooth = {SMOOTHING} * smooth + {1 - SMOOTHING:.3g} * loss (min_char_rnn.py's training
loop), from the uniform guess's {T} * ln({V}) = {T * np.log(V):.2f}, so it weighs about the last
{1 / (1 - SMOOTHING):,.0f} iterations. Left axis: nats per chunk; right axis: the same in bits per character.

![Smoothed loss of the {len(runs)} seeds]({overlay})

{together_text(corr_rows, table, hp['log_every'])} The y axis shows where the runs are after their
first steep descent (the first 5% of the iterations start above it, from the uniform guess).

{seeds_markdown(table, stats, T)}

Data: [exercise-loss.csv](exercise-loss.csv) (every logged row of each run),
[exercise-seeds.csv](exercise-seeds.csv) (this table),
[exercise-correlation.csv](exercise-correlation.csv) (the correlations, per pair of seeds). One
figure per run: {', '.join(f'[seed {seed}]({f})' for seed, f in zip(runs, singles))}
(the grey line is each logged iteration's own chunk loss).

{images}

**{len(chosen)} candidate favourite samples**: {how}, among its last {k} training samples
(every {hp['sample_every']} iterations, {hp['sample_length']} characters), by the share of their
words ({word_rule()}) that occur anywhere in the training text; ties go to more
distinct such words, and samples of fewer than {MIN_WORDS} words are left out. The criterion rewards real
words, not grammar or sense: the choice is still yours; under each, what it shows the model has
learnt of a play's form (a heading is a line of a name in capitals, as `MACBETH.`; a stage
direction is text in [brackets], or Enter, Exit, Exeunt). All samples, scored:
[favourite-samples.csv](favourite-samples.csv).

{fav}

{reproduce(plan, 'exercise')}"""

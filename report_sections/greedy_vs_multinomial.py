"""Greedy vs multinomial decoding: what does always taking the most likely character do to
a generated text, compared with drawing from the model's distribution at T = 0.5 and 1.0?

Runs: the trained models of the exercise (exercise/seed-N) and the LSTM and GRU of
cells/<cell>/seed-1; nothing is trained for this section.
Writes: decoding.csv (per model and decoding: where the text falls into a loop, distinct word
4-grams, known words, the model's surprise at its own text) and decoding-samples.md (every text).
"""
import os

import analysis as a
from charrnn.cells import CELLS, cell_module
from charrnn.sampling import generate
from report_sections.page import code_block, f2, md_table
from report_sections.runs import checkpoint


NAME = "decoding"
HEADING = "Greedy vs multinomial decoding of the same models"
CONTENTS = "Greedy vs multinomial decoding"

PRIME = "ROMEO:"  # the prime of every generated text (a newline where the text lacks it)
DECODINGS = [("greedy", "greedy", 1.0), ("T = 0.5", "multinomial", 0.5),
             ("T = 1.0", "multinomial", 1.0)]
COLUMNS = ["model", "decoding", "loop starts at character", "loop period", "loop",
           "share of distinct word 4-grams", "share of words in the training text",
           "bits per character the model gives its own text"]


def section(plan, out):
    """(page text, summary line) of the decoding comparison: no summary line."""
    s = plan.s
    models = [(f"vanilla, seed {seed}", plan.path("exercise", f"seed-{seed}")) for seed in s["seeds"]]
    models += [(CELLS[cell], plan.path("cells", cell, f"seed-{s['cell_seeds'][0]}"))
               for cell in ("lstm", "gru")]
    rows, texts = [], []
    for name, run in models:
        for row, text in decode(checkpoint(run), s["sample_length"], plan.vocabulary):
            rows.append([name, *row])
            texts.append((name, row[0], text))
    out.csv("decoding.csv", COLUMNS, rows)
    out.text("decoding-samples.md", samples_document(texts, s["sample_length"]))
    return page_text(plan, models, rows, [t for n, _, t in texts if n == models[0][0]]), None


def decode(state, length, vocabulary):
    """Generate length characters from a model each way of DECODINGS (sampling seed 1); for
    each, a row of decoding.csv without the model, and the text with its prime."""
    cell = cell_module(state["hparams"]["cell"])
    prime = PRIME if set(PRIME) <= set(state["chars"]) else None
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


def samples_document(texts, length):
    """decoding-samples.md: every generated text, under its model and decoding."""
    first = texts[0][2]
    doc = [f"# Greedy vs multinomial: every generated text\n\nEach starts from the prime "
           f"{first[:len(first) - length]!r} and a zero state; {length} generated characters; "
           f"multinomial draws with sampling seed 1.\n"]
    doc += [f"## {n}, {lab}\n\n{code_block(t)}\n" for n, lab, t in texts]
    return "\n".join(doc)


def loop_cell(loop):
    """A loop's text for a Markdown table cell: newlines, bars and backticks made harmless."""
    return "`" + loop.replace("\n", "\\n").replace("|", "\\|").replace("`", "'") + "`" if loop else ""


def decoding_markdown(rows):
    md_rows = [[r[0], r[1], f"{r[2]} (period {r[3]})" if r[2] != "" else "none", loop_cell(r[4]),
                f2(r[5]), f2(r[6]), f2(r[7])] for r in rows]
    return md_table(["model", "decoding", "loop starts at (period)", "the loop",
                     "distinct word 4-grams", "words in training text", "bits/char, own text"], md_rows)


def page_text(plan, models, rows, first):
    """The section's text; first: the three texts of the first model, as decoded."""
    L = plan.s["sample_length"]
    greedy_loops = [r for r in rows if r[1] == "greedy" and r[2] != ""]
    sampled_loops = [r for r in rows if r[1] != "greedy" and r[2] != ""]
    first_ckpt = os.path.join(models[0][1], "checkpoint.npz")
    return f"""\
Every trained model of this report generates {L} characters three ways from the same prime
and a zero state: greedy (the most probable character every time) and multinomial draws from
softmax(y / T) at temperatures 0.5 and 1.0. "Loop" is where the generated text becomes
periodic to its end (at least three repeats, 20 characters), with the period in characters;
distinct 4-grams are the share of word 4-grams that are not repeats; words are runs of letters,
lower-cased. The last column is how surprised the model is by its own text, -mean log2 p per
generated character: greedy text is made of the model's most likely characters, so it should
score lowest, and text drawn at T = 1.0 about as high as the model's own uncertainty, its
held-out bits per character (section 4).

{decoding_markdown(rows)}

{len(greedy_loops)} of the {len(models)} greedy texts fall into a loop, {len(sampled_loops)} of the
{2 * len(models)} multinomial ones. Greedy decoding is deterministic: once it produces a stretch
of text that leads back to its own beginning, it repeats it forever. Multinomial sampling keeps
drawing less likely characters, which breaks loops, at the price of misspelt words (more of them
at T = 1.0 than at 0.5). The texts of {models[0][0]} (all texts:
[decoding-samples.md](decoding-samples.md), the table: [decoding.csv](decoding.csv)):

**greedy**

{code_block(first[0])}

**multinomial, T = 0.5**

{code_block(first[1])}

**multinomial, T = 1.0**

{code_block(first[2])}

Reproduce: `{plan.args.report_cmd}` (this part: `analysis.find_loop`, `distinct_ngram_share`,
`known_word_share`, `self_bits_per_char` on `charrnn.sampling.generate`), or one text by hand:

    python min_char_rnn.py --sample-from {first_ckpt} --strategy greedy --length {L} --prime "{PRIME}"
"""

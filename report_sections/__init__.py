"""The sections of the report page (report.py), one module per question, and what they share.

Sections, in the page's order (report.py's SECTIONS):

    three_seeds                     the exercise: three seeds of the vanilla RNN
    greedy_vs_multinomial           greedy vs multinomial decoding of the same models
    why_reloading_is_not_resuming   --resume vs --init-from
    lstm_gru_vs_vanilla             vanilla RNN vs LSTM vs GRU on held-out text
    vanishing_gradients             d loss_t / d state_(t-k) against k
    gradient_clipping               how often gradient clipping bites
    long_range_dependency           what each cell can recall over L characters, per truncation
    truncation_costs                what truncated BPTT costs and saves, --seq-length 5 to 200

Each section module has a docstring that states its question, the runs it reads and the
files it writes; NAME (its name in the progress lines), HEADING (its title on the page),
CONTENTS (its entry in the page's contents); and section(plan, out), which measures, writes
its figures and CSV files through out, and returns (its page text below the heading, a
summary line for the terminal or None). A new section is a new module here and one line in
report.py's SECTIONS; its runs, if it needs new ones, go in plan.py.

Shared:

    plan       which runs to train, and the commands that train them (SCALES, Plan)
    training   training them in the shared pool (charrnn.pool), with progress lines
    runs       reading a run's loss curves, held-out curve, samples and checkpoint
    page       the Output folder (figures, CSV, text) and Markdown helpers
"""

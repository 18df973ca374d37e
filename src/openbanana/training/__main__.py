"""``python -m openbanana.training --config X.json --out DIR`` (what ``accelerate launch -m`` runs)."""

import sys

from openbanana.cli import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])

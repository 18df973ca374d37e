"""``python -m openbanana.training --config X.json --out DIR``: an alias of ``python -m openbanana.cli.train``.

The command lives in :mod:`openbanana.cli.train`; this file only keeps the launch lines that name
``-m openbanana.training`` working. It is an entry point, never imported by the package, so the
training package does not depend on the CLI.
"""

if __name__ == "__main__":
    from openbanana.cli.train import main  # the entry point's only import: nothing imports this file

    main()

"""``python -m glean_async``: the command line, :mod:`glean_async.cli`."""

from glean_async.cli import run

if __name__ == "__main__":
    run()

"""``python -m embedbench``: the same command line as the ``embedbench`` script."""

from embedbench.cli import main

main()

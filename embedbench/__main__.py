"""``python -m embedbench``."""

from embedbench.cli import main

main()

"""``python -m corridor.cli`` (what the ``./corridor`` launcher runs)."""

from corridor.cli import main

main()

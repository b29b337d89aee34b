"""`python -m syncer` runs the CLI."""

from syncer.cli import main

main()

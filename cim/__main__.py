"""``python -m cim`` runs the command line."""

from cim.cli import main

main()

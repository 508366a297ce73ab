"""``python -m entrepot`` runs the command line."""

from entrepot.cli import run

run()

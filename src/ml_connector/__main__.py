"""``python -m ml_connector`` runs the command line."""

from ml_connector.cli import main

main()

"""``python -m ml_connector`` runs the command line."""

from ml_connector.interfaces.cli import main

main()

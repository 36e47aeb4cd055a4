"""How people and systems drive ml-connector: the command line (and the web app)."""

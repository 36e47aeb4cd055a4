"""The sandbox beside the product: faithful Looker and DATEV emulators and the demo.

The product (:mod:`ml_connector`) never imports this package (an import-linter contract
enforces it); the ``demo`` and ``sandbox`` commands join the ``ml-connector`` command line
through the ``ml_connector.commands`` entry point.
"""

"""Coming from the Node version: the import of its database (`manage.py import_legacy`).

An app of its own because it writes into every other app's tables (accounts, media analysis,
monitoring), so it sits above all of them.
"""

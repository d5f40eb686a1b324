"""Command-line runtime shared by the four stage commands: config, exit codes, files, logging.

Each module has one job; stage logic never lives here.
"""

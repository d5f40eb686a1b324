"""What every stage shares: the command-line runtime (config, exit codes, files, logging) and
the contracts' own rules (hashtags, timestamps), so that no stage package imports another's.

Each module has one job; a stage's logic never lives here.
"""

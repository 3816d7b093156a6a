"""Imported by basic.py as a sibling module, to check the sys.path setup."""

GREETING = "hello from a sibling"

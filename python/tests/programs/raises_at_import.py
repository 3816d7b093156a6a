"""A programs file whose import fails."""

from pyroost import program


@program
def never_served():
    return None


raise RuntimeError("configuration missing")

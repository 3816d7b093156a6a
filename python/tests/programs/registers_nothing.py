"""A programs file without any @program function."""


def helper():
    return None

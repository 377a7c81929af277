"""Errors that stop a command before it does anything."""


class StartupError(Exception):
    """One line for the operator: what is wrong and what to do."""

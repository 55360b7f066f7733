"""Errors that reach the user as one line and exit code 2 (bad input), never a traceback."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from the user: unknown name, impossible size, malformed spec, missing device."""


class FactoryError(UserError):
    """A calculator's factory cannot be imported (its package missing or broken): in a benchmark environment,
    every case of it fails, never shows as n/a."""


class Unsupported(RuntimeError):
    """A calculator cannot run this case (element without parameters, no stress, ...): skipped, not failed."""

"""Errors that reach the user as one line and exit code 2 (bad input), never a traceback."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from the user: unknown name, impossible size, malformed spec, missing device."""


class FactoryError(UserError):
    """A calculator's factory cannot be imported (its package missing or broken): in a benchmark environment,
    every case of it fails, never shows as n/a.  ``missing``: the module Python could not find; ``module``: the
    spec's module; ``absent``: the name the module lacks."""

    def __init__(self, message: str, *, missing: str = "", module: str = "", absent: str = "") -> None:
        super().__init__(message)
        self.missing, self.module, self.absent = missing, module, absent

    @property
    def spec_absent(self) -> bool:
        """The spec's own module (or the name in it) does not exist: the calculator is not at this commit, as
        opposed to a dependency the environment lacks."""
        if self.absent:
            return True
        # A submodule the package lacks (mycalc.factory); the top-level package itself missing is an install
        # that failed, or an environment without it.
        return "." in self.missing and (self.module == self.missing or self.module.startswith(self.missing + "."))


class Unsupported(RuntimeError):
    """A calculator cannot run this case (element without parameters, no stress, ...): skipped, not failed."""

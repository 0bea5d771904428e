"""The product's supervision tree, built from :mod:`soundforge.runtime` parts."""

from soundforge.supervisors.root import NAMES, Root, RootOptions

__all__ = ["NAMES", "Root", "RootOptions"]

"""SoundForge: a self-hosted studio server for musicians, DJs and producers.

The package is organised like the OTP application it mirrors: :mod:`soundforge.runtime` is
the actor runtime (processes, GenServers, supervisors, ports), :mod:`soundforge.supervisors`
is the product's supervision tree built from it, and :mod:`soundforge.cli` is the one entry
point (``soundforge``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

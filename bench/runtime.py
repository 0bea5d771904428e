"""Run the runtime benchmark: ``python bench/runtime.py [--quick] [--asyncio]``.

The measurements live in :mod:`soundforge.bench.runtime` so that ``soundforge bench runtime``
runs the same code from an installed package; this file is the one-command entry point.
"""

from soundforge.bench.runtime import main

raise SystemExit(main())

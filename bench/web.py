"""Run the web endpoint benchmark: ``python bench/web.py [--quick] [--dsn URL]``.

The measurements live in :mod:`soundforge.bench.web` (the load comes from a separate process,
:mod:`soundforge.bench.web_load`), so ``soundforge bench web`` runs the same code.
"""

from soundforge.bench.web import main

raise SystemExit(main())

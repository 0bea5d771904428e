"""Run the job-queue benchmark: ``python bench/job_queue.py [--quick] [--dsn URL]``.

The measurements live in :mod:`soundforge.bench.queue` so that ``soundforge bench queue``
runs the same code from an installed package; this file is the one-command entry point.
(It is not called ``queue.py``: run as a script, that would shadow the standard library's
``queue`` module, which asyncio imports.)
"""

from soundforge.bench.queue import main

raise SystemExit(main())

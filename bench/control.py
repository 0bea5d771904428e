"""Run the studio control benchmark: ``python bench/control.py [--quick] [--dsn URL]``.

The measurements live in :mod:`soundforge.bench.control` (OSC and MIDI into a mixer session,
timed to a WebSocket client and to the state change), so ``soundforge bench control`` runs
the same code.
"""

from soundforge.bench.control import main

raise SystemExit(main())

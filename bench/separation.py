"""Run the separation benchmark: ``python bench/separation.py [--quick] [--threads N]``."""

from soundforge.bench.separation import main

raise SystemExit(main())

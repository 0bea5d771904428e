"""Run the analysis benchmark: ``python bench/analysis.py [--quick]`` (see the module)."""

from soundforge.bench.analysis import main

raise SystemExit(main())

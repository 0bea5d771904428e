from soundforge.cli import main

raise SystemExit(main())

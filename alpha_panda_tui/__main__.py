from alpha_panda_tui.cli import main

raise SystemExit(main())

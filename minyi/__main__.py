from minyi.cli import main

raise SystemExit(main())

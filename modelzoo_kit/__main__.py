from modelzoo_kit.cli import main

raise SystemExit(main())

from freshlens.cli import main

raise SystemExit(main())

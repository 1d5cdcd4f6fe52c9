"""`python -m bot` is the same as the `postgate` console script."""

from bot.cli import main

raise SystemExit(main())

"""`python -m ticketing ...`: see ticketing.cli."""

from ticketing.cli import main

raise SystemExit(main())

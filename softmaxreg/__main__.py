"""``python -m softmaxreg``: the command line."""

from .cli import main

raise SystemExit(main())

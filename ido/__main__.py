"""`python -m ido`: the same as the `ido` command."""

from ido.cli.main import main

main()

"""The `ido` command line; `ido.cli.main.main` is the entry point."""

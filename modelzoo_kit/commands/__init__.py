"""One module per ``modelzoo`` subcommand; each defines ``register`` and ``run``."""

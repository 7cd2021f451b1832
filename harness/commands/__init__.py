"""One module per `sfperf` subcommand: `register(subparsers)` + a handler returning an exit code."""

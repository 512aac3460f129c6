"""Command line interface: ``liverlesion <subcommand>``."""

"""Exit codes of every ``liverlesion`` subcommand (DESIGN.md "Contracts").

0 success, 1 internal error, 2 bad input (one line naming the file and the rule), 130 cancelled.
Pure constants: importing this loads nothing.
"""

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130

"""The stack program (filled in by the stack issue)."""

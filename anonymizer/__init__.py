"""Mayfly's data plane: migration analysis, masking rules, masking runs, local clones.

Self-contained: it must not import `controller`, `sim` or `kubernetes` (the
controller imports this package, never the reverse).
"""

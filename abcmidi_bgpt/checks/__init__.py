"""Checks of outputs: validity, fidelity, note metrics and ABC diagnostics."""

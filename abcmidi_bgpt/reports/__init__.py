"""Reports: engines compared on a test set."""

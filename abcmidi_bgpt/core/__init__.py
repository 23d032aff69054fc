"""The core: errors, the note list, file and time helpers, worker processes."""

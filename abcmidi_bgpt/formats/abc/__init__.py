"""ABC text: splitting tunes, guards, standard rewrites, normalisation."""

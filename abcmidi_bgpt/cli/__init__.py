"""The command-line interface (typer): the interface layer."""

"""Conversion engines behind one interface, their registry, and the batch runner."""

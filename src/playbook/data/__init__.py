"""Data files shipped with the package (the static embedder's table)."""

"""Internal helpers shared by every layer: validation, optional imports, numpy<->torch, files."""

"""This machine: what paperpack can do here (doctor) and what it left here (clean)."""

"""DOIs: their syntax and their resolution through the DOI services."""

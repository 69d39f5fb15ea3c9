"""A paper repository on disk: its files (read without leaving it) and its manifest."""

"""Generic helpers at the bottom of paperpack: atomic writes, the disk cache, HTTP, Docker, terminal text.

Nothing here knows about papers; nothing here imports from the stage packages above it.
"""

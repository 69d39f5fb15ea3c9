"""Notebooks: bounded parsing, nbformat's schema, what their Python imports and reads, the import
map, how messages name a cell, and the verdict vocabulary shared by compare and run.
"""

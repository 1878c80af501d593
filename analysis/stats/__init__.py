"""The engine: pooled proportions and two-group effects, as metafor computes them.

Nothing here knows about the disease, files or figures; ``analysis.review`` and
``analysis.present`` build on it, never the other way round.
"""

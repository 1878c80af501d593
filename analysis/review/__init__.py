"""This evidence review: the data package, its rules, synthesis, GRADE and the claims audit.

Built on ``analysis.stats``; never imports ``analysis.present``.
"""

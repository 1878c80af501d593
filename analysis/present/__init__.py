"""Presentation: figures, tables, the HTML report, slides and citation.

Reads what ``analysis.review`` derived; computes no statistics of its own.
"""

"""The PRISMA 2020 checklist of this review, read from ``data/raw/prisma_checklist.csv``.

Item numbers follow Page et al. (2021), BMJ 372:n71, doi:10.1136/bmj.n71: 27 items, of
which 10, 13, 16, 20, 23 and 24 have sub-items (42 rows). The loader checks that every
item is present; a test checks that the built report shows every item and that each
section named as its location exists.
"""

from __future__ import annotations

from typing import Any

PRISMA_ITEMS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10a", "10b", "11", "12", "13a", "13b", "13c",
                "13d", "13e", "13f", "14", "15", "16a", "16b", "17", "18", "19", "20a", "20b", "20c", "20d",
                "21", "22", "23a", "23b", "23c", "23d", "24a", "24b", "24c", "25", "26", "27")

__all__ = ["PRISMA_ITEMS", "prisma_checklist"]


def prisma_checklist(pkg) -> dict[str, Any]:
    """The checklist rows in item order, with a count per status, for the results file."""
    order = {item: i for i, item in enumerate(PRISMA_ITEMS)}
    table = pkg["prisma_checklist"]
    rows = sorted(({"item": r.item, "section": r.section, "topic": r.topic, "status": r.status,
                    "location": r.location, "how_addressed": r.how_addressed}
                   for r in table), key=lambda r: order[r["item"]])
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("reported", "partially_reported",
                                                                    "not_applicable")}
    return {"guideline": "PRISMA 2020 (Page et al. 2021, BMJ 372:n71)", "items": rows, "counts": counts}

# pipeline targets (filled in by the report issue)

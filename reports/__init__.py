"""Pure tallies and renderers: counts, ranks, deltas, and the text, CSV, XLSX and PNG councils publish."""

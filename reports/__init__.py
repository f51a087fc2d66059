"""Pure tallies: periods, counts, ranks, deltas, and rendering them as councils publish them."""

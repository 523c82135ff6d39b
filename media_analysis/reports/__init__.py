"""The PDF report of one analysis run, and the selector that loads a run for it."""

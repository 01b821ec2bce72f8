"""Reports from run records only (never models): tables, confidence intervals, plots, grids, index.html."""

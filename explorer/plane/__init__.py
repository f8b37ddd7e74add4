"""The exact 2-D partition: ``regions`` enumerates it (``kernels`` holds its compiled split), ``partition`` derives
linear regions, adjacency and boundaries from it."""

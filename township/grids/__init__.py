"""The grids: the grid set (`model`), validating grid files (`validate`, `slivers`), coordinate systems
(`crs`), measuring in metres (`spatial`), the cell index for point assignment (`cellindex`) and
installing grids in the store (`install`)."""

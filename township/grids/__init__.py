"""The grid set: model, validation, coordinate systems, the cell index for point assignment, and installing grids in the store."""

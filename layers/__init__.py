"""Pure builders from data to Plotly traces and layout pieces: no callbacks, no I/O."""

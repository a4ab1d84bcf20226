"""What the screens and the API read: the snapshot, views and masks, statistics, reports, field-map data."""

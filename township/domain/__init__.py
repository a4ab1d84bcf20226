"""The township's vocabulary and rules: codes and labels, roles, privacy, deadlines, filters, time. No SQLAlchemy, no Dash."""

"""The township's vocabulary and rules: codes and labels, roles and the access policy, privacy, deadlines,
filters, time. No SQLAlchemy, no Dash."""

"""Users who sign in and API tokens."""

"""Screen pieces shared by pages and callbacks: component ids and screen text."""

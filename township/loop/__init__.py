"""Use cases that write: the closed loop of a case, one-point command on a warning, the people who handle cases."""

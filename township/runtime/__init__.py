"""Starting the township: bootstrap, the command line, demo data and the demo feed, page rendering."""

"""The `strokect` command line: thin shells over public functions."""

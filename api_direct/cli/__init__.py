"""The ``apid`` command line: thin Click commands over the library."""

"""The ``aip`` command line tool: one entry point, one thin module per subcommand."""

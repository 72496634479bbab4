"""The `diagscope` command line: one module per command group, each command a thin call
into the library (parse the options, call one function, print what it returns). A
command's module is imported when the command is used (`cli.main.COMMAND_MODULES`)."""

from diagscope.cli.main import main

__all__ = ["main"]

"""The `ab-harness` command line: one entry point that gathers each room's commands."""

"""`python -m mock_agentbuddy` does what `ab-harness mock` does."""
from .cli import mock

mock(prog_name="python -m mock_agentbuddy")

"""`python -m consumer` is `loan-scorer`."""

from consumer.cli import app

app()

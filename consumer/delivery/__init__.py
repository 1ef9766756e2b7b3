"""The two delivery guarantees: exactly-once and at-least-once, and how a batch is written.

May not import runtime, api, outcomes, tools or cli.
"""

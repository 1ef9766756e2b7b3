"""The outcomes joiner, a process of its own: its consumer, SQLite store and metrics.

May not import runtime, delivery, api, tools or cli.
"""

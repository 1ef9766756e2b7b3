"""Operator tools: demo events and producer, tail, validate, rescore.

May not import runtime, delivery, api, outcomes or cli.
"""

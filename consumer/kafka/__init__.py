"""The scorer's Kafka edge: clients, configuration, bounded calls, errors, offsets, topics.

May not import delivery, runtime, api, outcomes, tools or cli.
"""

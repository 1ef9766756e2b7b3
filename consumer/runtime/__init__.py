"""The scorer process: the Kafka loop and the service that wires every room together.

May not import outcomes, tools or cli.
"""

"""The scorer's configuration: settings read from the environment, validated at start.

May not import any other room of consumer (it is the bottom layer).
"""

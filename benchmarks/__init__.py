"""`make bench`: the scorer measured against the limits of this machine (see bench.py)."""

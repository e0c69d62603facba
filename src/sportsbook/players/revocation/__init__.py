"""Session revocations seen by every node at once: an interface (channel.py) and a file per backend."""

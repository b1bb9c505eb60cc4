"""Corridor: the services of the trade messaging backbone and their shared core."""

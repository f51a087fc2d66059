"""Tests of the simulated Bot API server (simulator/), through a real python-telegram-bot client."""

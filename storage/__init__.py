"""Storage: the interface the services use (interface.py, types.py) and the engines behind it (sqlite/)."""

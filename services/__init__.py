"""The use cases, one module per feature: plain Python in and out, over the storage interface, no Telegram."""

"""A simulated Telegram Bot API server for tests, benchmarks and the demo; the production bot never imports it."""

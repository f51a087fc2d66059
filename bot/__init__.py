"""The composition root and runtime: settings, wiring, polling, the delivery ledger, the scheduler, logging."""

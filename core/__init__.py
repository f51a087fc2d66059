"""The pure domain: models, the flow, taxonomy, periods and eras, dates, button codec, messages, clock, crypto."""

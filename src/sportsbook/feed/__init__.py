"""The odds feed: the message model, the adapters that decode a provider's wire format, and ingestion."""

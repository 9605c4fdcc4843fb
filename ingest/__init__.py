"""The push receiver: HTTP app, auth, limits, metrics and the durable landing writer."""

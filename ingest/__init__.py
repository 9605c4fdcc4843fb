"""The push receiver: HTTP app, auth, lenient parsing and the durable landing writer."""

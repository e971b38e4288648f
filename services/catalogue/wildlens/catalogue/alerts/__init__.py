"""Alert rules and their webhook deliveries: a sighting that matches a rule becomes a
signed webhook within seconds, retried with backoff until the receiver takes it."""

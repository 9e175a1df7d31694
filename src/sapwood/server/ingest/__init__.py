"""Feeds: decoding and validating records, the broker that queues batches, results."""

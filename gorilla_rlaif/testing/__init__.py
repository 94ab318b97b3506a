"""Real components for tests and benchmarks (not mocks): a loopback OpenAI-compatible server."""

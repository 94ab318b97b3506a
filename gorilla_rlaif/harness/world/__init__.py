"""The world APIBench code runs against: an execution environment and offline stand-ins."""

"""Settings, the CLI, and (later) the answer chain and LLM backends."""

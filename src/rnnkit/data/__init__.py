"""Data: sources, tokenizers, batching (`rnnkit.data.batching`) and seeded synthetic tasks
(`rnnkit.data.synthetic`)."""

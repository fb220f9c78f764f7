"""Data: text sources (`rnnkit.data.sources`), tokenizers, the query store of the
autocomplete service (`rnnkit.data.store`), batching (`rnnkit.data.batching`) and seeded
synthetic tasks (`rnnkit.data.synthetic`)."""

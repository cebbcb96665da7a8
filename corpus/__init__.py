"""Reports as data: reading, cleaning and structure-aware chunking into `Chunk`s."""

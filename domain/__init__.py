"""The shared nouns of Dispute Desk: a leaf that imports nothing else of the project."""

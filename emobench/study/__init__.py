"""User studies: questionnaires, answer ingestion and exact binomial analysis."""

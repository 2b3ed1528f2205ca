"""train: thin fine-tuning over SentenceTransformerTrainer, with the loss chosen from the data."""

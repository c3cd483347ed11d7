"""Data: synthetic samples with ground truth, real-format loaders, storage (notebook 01)."""

"""embedbench: dataset prep, fine-tuning and evaluation for sentence-embedding models."""

__version__ = "0.1.0"

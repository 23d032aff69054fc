"""The byte-level bGPT model: patches, model, dataset, training, evaluation, generation."""

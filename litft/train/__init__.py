"""The training layer: ONE Fabric loop for pretraining and every fine-tuning method (see ARCHITECTURE.md)."""

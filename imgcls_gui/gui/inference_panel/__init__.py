"""The Inference panel: run a trained model on new images, export, sort into folders, label with the model."""

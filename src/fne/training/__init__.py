"""Training a picked cell: the recipe (:mod:`.recipe`) and a cell trained, tested and saved
as ``model.pt`` (:mod:`.train_cell`)."""

from fne.training.recipe import TrainConfig, train_and_test, train_network

__all__ = ["TrainConfig", "train_and_test", "train_network"]

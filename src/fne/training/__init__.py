"""Training a picked cell: the recipe (:mod:`.recipe`), a cell trained, tested and saved as
``model.pt`` (:mod:`.train_cell`), and the run of ``fne train`` (:mod:`.run`)."""

from fne.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "recipe": ["TrainConfig", "train_network", "evaluate_accuracy"],
        "run": ["TrainCommandConfig", "run_training"],
    },
)

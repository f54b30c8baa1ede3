"""Training a picked cell: the recipe (:mod:`.recipe`), how it runs fast (:mod:`.execution`),
the test figures (:mod:`.metrics`), a cell trained, tested and saved as ``model.pt``
(:mod:`.train_cell`), and the run of ``fne train`` (:mod:`.run`)."""

from fne.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "recipe": ["TrainConfig", "TrainingLog", "train_network", "predict", "evaluate_accuracy"],
        "metrics": ["classification_metrics"],
        "run": ["TrainCommandConfig", "run_training"],
        "ensemble": ["train_ensemble"],
    },
)

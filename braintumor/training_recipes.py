"""The training settings of each model, in one place, so the notebook, the study and the
cross-validation scripts train exactly the same way."""

RECIPES = {
    # The seed's recipe: Adam, early stopping on validation loss, at most 20 epochs.
    "reference": {"max_epochs": 20, "patience": 3, "batch_size": 32, "learning_rate": 1e-3},
    # The default for improved-CNN candidates (scripts/improved_search.py; a candidate may
    # override any key). Batch norm makes the first epochs' validation loss erratic: early
    # stopping only watches from epoch 8 on, and the cosine schedule settles the end.
    "improved": {
        "max_epochs": 30,
        "patience": 6,
        "start_from_epoch": 8,
        "batch_size": 32,
        "learning_rate": 1e-3,
        "cosine_decay": True,
    },
}


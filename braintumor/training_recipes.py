"""The training settings of each model, in one place, so the notebook, the study and the
cross-validation scripts train exactly the same way."""

RECIPES = {
    # The seed's recipe: Adam, early stopping on validation loss, at most 20 epochs.
    "reference": {"max_epochs": 20, "patience": 3, "batch_size": 32, "learning_rate": 1e-3},
    # The default for improved-CNN candidates (scripts/improved_search.py; a candidate may
    # override any key). Batch norm makes validation loss erratic until the cosine schedule
    # has lowered the learning rate: watching from epoch 8, early stopping still ended 2 of 5
    # cross-validation folds on a chance dip at epochs 13-14 (model/cv_f1_stop_from_8.json);
    # from epoch 20 on it did not (model/cv_results.json). model.ipynb tabulates both.
    "improved": {
        "max_epochs": 30,
        "patience": 6,
        "start_from_epoch": 20,
        "batch_size": 32,
        "learning_rate": 1e-3,
        "cosine_decay": True,
    },
}


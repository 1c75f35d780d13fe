"""Search for the improved CNN: train candidate architectures/recipes, score validation.

Each candidate is trained on the train rows and scored on the validation rows only (all of
them, and the head-size-matched validation pairs, where slice size says nothing); the
rows are appended to `model/improved_search.json` (committed and shown in model.ipynb).
`model.ipynb` retrains the winner, `braintumor.models.choose_improved`: the best validation
accuracy among candidates that trained within the 10-minute CPU budget and whose early
stopping waited as long as `RECIPES["improved"]` says. Candidates come
from the GPU screen (`scripts/gpu_screen.py`, `model/gpu_screen.json`) where one was run.

    python scripts/improved_search.py '[{"name": "c1", "arch": {"resolution": 128}}]'
"""

from __future__ import annotations

import json
import sys

from tqdm import tqdm

from braintumor import config
from braintumor.data.dataset import load_npz
from braintumor.files import atomic_write
from braintumor.evaluation.metrics import binary_metrics, choose_threshold
from braintumor.models.networks import (architecture_from_json, build_improved_cnn, library_versions, predict_tumour_probability,
                               train)
from braintumor.evaluation.shortcut import head_size_matched_pairs, matched_metrics, slice_cues
from braintumor.data.splits import split_arrays
from braintumor.models.recipes import RECIPES

OUT = config.MODEL_DIR / "improved_search.json"


def main() -> int:
    candidates = json.loads(sys.argv[1])
    data = split_arrays(load_npz())
    train_split, val_split = data["train"], data["val"]
    # Validation pairs matched on head area: where the slice's size says nothing of the label.
    val_head_area = slice_cues(val_split["images"])["head_area"].to_numpy()
    val_pairs = head_size_matched_pairs(val_head_area, val_split["labels"])
    for candidate in tqdm(candidates, desc="candidates", unit="candidate"):
        architecture = architecture_from_json(candidate.get("arch", {}))
        recipe = {**RECIPES["improved"], **candidate.get("recipe", {})}
        model = build_improved_cnn(**architecture)
        result = train(model, train_split["images"], train_split["labels"], val_split["images"], val_split["labels"],
                       **recipe)
        best = result.best_epoch - 1
        val_probability = predict_tumour_probability(model, val_split["images"])
        threshold = choose_threshold(val_split["labels"], val_probability)
        matched = matched_metrics(val_split["labels"], val_probability, threshold, val_pairs, val_head_area)
        row = {
            "name": candidate["name"],
            "architecture": architecture,
            "recipe": recipe,
            "parameters": int(model.count_params()),
            "val_accuracy": round(result.history["val_accuracy"][best], 4),
            "val_loss": round(result.history["val_loss"][best], 4),
            "val_roc_auc": round(binary_metrics(val_split["labels"], val_probability, with_ci=False)["roc_auc"], 4),
            "val_matched_pairs": int(matched["n_pairs"]),
            "val_matched_accuracy": round(matched["accuracy"], 4),
            "val_matched_roc_auc": round(matched["roc_auc"], 4),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "seconds_per_epoch": round(result.seconds_per_epoch, 1),
            "seconds": round(result.seconds, 1),
            "val_accuracy_by_epoch": [round(v, 4) for v in result.history["val_accuracy"]],
        }
        print(json.dumps(row), flush=True)
        search = json.loads(OUT.read_text()) if OUT.is_file() else {"rows": []}
        search["rows"] = [r for r in search["rows"] if r["name"] != row["name"]] + [row]
        search["versions"] = library_versions()
        atomic_write(OUT, lambda tmp: tmp.write_text(json.dumps(search, indent=2) + "\n"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

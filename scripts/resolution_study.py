"""Resolution study: validation accuracy and CPU seconds per epoch at several input sizes.

Run once (`make study`); its JSON is committed so that CI need not retrain every size.
Only train and validation rows are used: the test rows stay untouched.

    python scripts/resolution_study.py --model reference --resolutions 64 96 112 128
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from braintumor import config
from braintumor.data.dataset import load_npz
from braintumor.files import atomic_write
from braintumor.models.networks import build_improved_cnn, build_reference_cnn, library_versions, train
from braintumor.data.splits import split_arrays
from braintumor.models.recipes import RECIPES

BUILDERS = {"reference": build_reference_cnn, "improved": build_improved_cnn}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(BUILDERS), default="reference")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 96, 112, 128])
    parser.add_argument("--out", default=str(config.RESOLUTION_STUDY_PATH))
    args = parser.parse_args()

    data = split_arrays(load_npz())
    train_split, val_split = data["train"], data["val"]
    out = Path(args.out)
    study = json.loads(out.read_text()) if out.is_file() else {}
    rows = []
    for resolution in tqdm(args.resolutions, desc="resolutions", unit="size"):
        model = BUILDERS[args.model](resolution=resolution)
        result = train(model, train_split["images"], train_split["labels"], val_split["images"], val_split["labels"],
                       **RECIPES[args.model])
        best = result.best_epoch - 1
        row = {
            "resolution": resolution,
            "parameters": int(model.count_params()),
            "model_megabytes": round(model.count_params() * 4 / 1e6, 1),
            "val_accuracy": round(result.history["val_accuracy"][best], 4),
            "val_loss": round(result.history["val_loss"][best], 4),
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "seconds_per_epoch": round(result.seconds_per_epoch, 1),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    study[args.model] = {"rows": rows, "recipe": RECIPES[args.model], "versions": library_versions()}
    atomic_write(out, lambda tmp: tmp.write_text(json.dumps(study, indent=2) + "\n"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

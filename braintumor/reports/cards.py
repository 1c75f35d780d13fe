"""Each model folder's card, `model/<name>/card.json`, rendered from the records as the documents
are (a Hugging Face `config.json`'s place): what `predict` needs to use the model, and what a
reader needs to trust it.

* `threshold` and `threshold_rule`: the operating threshold and the decision that set it on the
  validation rows;
* `input_check`: the input-check rule (`data.input_check.fit_input_check`'s bounds; where the
  folder's scope.json keeps cues re-set by the scope study, `fit_input_check_by_source`'s);
* `preprocessing`: `{"brain_extraction": method}`, what runs on the scans before the network
  (`data.brain_extraction`), copied from the folder's `config.toml` (absent there: "none");
* `weights_sha256` (the weights' digest, `studies.base.weights_digest`) and `files` (each
  file's SHA-256), so that a card and its weights are never mistaken for another training's;
* `trained_on`: the CPU, the seconds, the epochs and, where recorded, the rows per second;
* `scope_check` (only where the folder holds `scope.json`, the scope detector `predict` warns
  with: `studies.scope`): its variant, threshold, file hash and rule, and what its study measured
  (the validation rows warned, set B's unwarned share and ROC AUC at the pick);
* `scores`: the model's figures on each held-out set (A test, LGG test, B, C), each with the
  record it comes from and the date of its look where the record keeps one; `looks`: how often
  the test rows and the outside scans have been looked at in all (`reports.disclosure`).

`write_cards` writes every card after `metrics.json` and the study records: model.ipynb, once
it has written metrics.json, and `make docs` (`python -m braintumor.reports.cards`). `predict`
reads `threshold`, `input_check` and `preprocessing` of the card, and the folder's `scope.json`
where it has one, and nothing else of `model/`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import config
from ..files import atomic_write
from ..models import configs, roles, specs
from ..models.onnx_runtime import file_sha256
from .disclosure import PEER_RECORD, SCOPE_RECORD

#: How a card names the sets a record keys its scores by (the documents' short names).
SET_NAMES = {"brain_tumor_test": "A test", "brain-tumor_test": "A test",
             "brain_tumor_matched_test": "A test, head-size-matched pairs", "extra_test": "B test",
             "extra_all": "B, every row", "lgg_test": "LGG test", "outside": "C"}
#: The figures a score keeps (the record has more: `model/*.json`).
FIGURES = ("n", "roc_auc", "accuracy", "sensitivity", "specificity")
#: Which record holds each model's figures beside metrics.json (its looks' dates).
RECORDS = {"new-scans": "new_scans_study.json", "a-lgg": "site_study.json", "all-source": "loso_study.json"}


def _entry(name: str, metrics: dict) -> dict | None:
    """metrics.json's entry of model `name` (the single-source model's is the top level; the
    reference CNN's is its test entry, with the input check fitted on the same train rows)."""
    if name == "reference":
        entry = metrics.get("models", {}).get("reference_cnn")
        return entry and {**entry, "input_check": metrics.get("input_check")}
    return metrics if name == "single-source" else metrics.get(specs.resolve(name).metrics_key)


def _figures(values: dict) -> dict:
    return {key: values[key] for key in FIGURES if key in values}


def _scores(name: str, metrics: dict, records: dict) -> list[dict]:
    """Model `name`'s held-out figures as the records keep them, one item per set."""
    if name in ("single-source", "reference"):
        improved = metrics.get("models", {}).get("improved_cnn" if name == "single-source" else "reference_cnn", {})
        found = {"A test": (metrics.get("test") if name == "single-source" else improved, "model/metrics.json"),
                 "A test, head-size-matched pairs": (improved.get("head_matched"), "model/metrics.json"),
                 "C": (improved.get("outside"), "model/metrics.json")}
        return [{"set": where, **_figures(values), "record": source, "date": None}
                for where, (values, source) in found.items() if isinstance(values, dict) and "roc_auc" in values]
    entry = _entry(name, metrics) or {}
    record_name = RECORDS.get(name)
    record = records.get(record_name, {}) if record_name else {}
    dates = {where: look.get("when") for look in record.get("looks", []) for where in look.get("sets", [])}
    scored_on = record.get("scored_on_date")
    out = []
    for key, values in (entry.get("scores") or {}).items():
        if key in SET_NAMES and isinstance(values, dict) and "roc_auc" in values:
            out.append({"set": SET_NAMES[key], **_figures(values),
                        "record": f"model/{record_name}" if record_name else "model/metrics.json",
                        "date": dates.get(key, scored_on)})
    return out


def _trained_on(name: str, metrics: dict, records: dict) -> dict:
    """Where and how the weights were trained, as the record of their training keeps it."""
    if name in ("single-source", "reference"):
        source = metrics.get("training" if name == "single-source" else "reference_training", {})
    elif name == "new-scans":
        source = records.get("new_scans_study.json", {}).get("final", {})
    elif name == "a-lgg":
        source = records.get("site_study.json", {}).get("final", {})
    elif name == "all-source":
        source = records.get("loso_study.json", {}).get("all_source", {})
    else:
        source = _entry(name, metrics) or {}
    machine = source.get("machine")
    return {"cpu": machine.get("cpu") if isinstance(machine, dict) else machine, "seconds": source.get("seconds"),
            "epochs_run": source.get("epochs_run"), "rows_per_second": source.get("rows_per_second"),
            "schedule": metrics.get("schedule") if name in ("single-source", "reference") else source.get("schedule", "full")}


def _weights_sha256(folder: Path, keras_sha256: str, earlier: dict, recorded: str | None) -> str | None:
    """The weights' digest: the record's, else the earlier card's for the same file, else computed
    (Keras needed, once per new file)."""
    if recorded:
        return recorded
    if earlier.get("files", {}).get(configs.KERAS_FILE) == keras_sha256 and earlier.get("weights_sha256"):
        return earlier["weights_sha256"]
    from ..models.networks import load_model
    from ..studies.base import weights_digest

    return weights_digest(load_model(folder / configs.KERAS_FILE))


def _scope_file(name: str, folder: Path) -> dict | None:
    """Model `name`'s scope.json (in `folder`, or the committed folder), parsed, with its path; None without one."""
    from ..studies.scope.rows import DETECTOR_FILE

    path = next((candidate for candidate in (folder / DETECTOR_FILE, config.REPO_ROOT / configs.model_dir(name) / DETECTOR_FILE)
                 if candidate.is_file()), None)
    return None if path is None else {**json.loads(path.read_text(encoding="utf-8")), "_path": path}


def _scope_check(scope: dict | None, records: dict) -> dict | None:
    """The card's `scope_check`: None unless the folder's scope.json (`scope`, `_scope_file`)
    holds a detector (not the cheap cues alone); what its study measured comes from its record."""
    if scope is None or scope.get("kind") == "cues":
        return None
    record = Path(scope.get("record") or "model/scope_study.json").name
    study = records.get(record) or {}
    pick = study.get("pick") or {}
    fitted = next((entry for entry in study.get("fitted", []) if entry.get("variant") == scope.get("variant")), {})
    network = {"network": scope["network"], "network_sha256": file_sha256(scope["_path"].parent / scope["network"])} \
        if scope.get("kind") == "cnn" and (scope["_path"].parent / scope["network"]).is_file() else {}
    return {"file": scope["_path"].name, "sha256": file_sha256(scope["_path"]), "variant": scope.get("variant"),
            **network, "threshold": scope.get("threshold"), "rule": scope.get("decision"),
            "validation_warned": fitted.get("validation_warned"),
            "b_unwarned_share": pick.get("b_unwarned_share"), "b_unwarned_roc_auc": pick.get("b_unwarned_roc_auc"),
            "record": f"model/{record}"}


def card(name: str, metrics: dict, records: dict, folder: Path, earlier: dict | None = None) -> dict | None:
    """Model `name`'s card from `metrics` and `records`, for the weights in `folder`; None when
    the weights or their entry are not there (a model this run did not make)."""
    from .disclosure import for_records

    entry = _entry(name, metrics)
    keras = folder / configs.KERAS_FILE
    if entry is None or "threshold" not in entry or not keras.is_file():
        return None
    written = configs.load_config(name)
    files = {file: file_sha256(folder / file) for file in (configs.KERAS_FILE, configs.ONNX_FILE)
             if (folder / file).is_file()}
    recorded = (entry.get("scores") or {}).get("weights_sha256") if name == "new-scans" else None
    looks = for_records(records)
    scope = _scope_file(name, folder)
    # a scope study that re-set the cheap cues (rule scope_sequence_cnn) keeps them in scope.json: they replace the training's
    input_check = scope["input_check"] if scope and "input_check" in scope else entry.get("input_check")
    return {
        "name": name, "role": roles.role(name), "for_scans": written["role"]["for_scans"],
        "threshold": float(entry["threshold"]), "threshold_rule": written["rules"]["threshold"],
        "input_check": input_check,
        "preprocessing": {"brain_extraction": written.get("preprocessing", {}).get("brain_extraction", "none")},
        "weights_sha256": _weights_sha256(folder, files[configs.KERAS_FILE], earlier or {}, recorded),
        "files": files,
        "trained_on": _trained_on(name, metrics, records),
        **({"scope_check": checked} if (checked := _scope_check(scope, records)) else {}),
        "scores": _scores(name, metrics, records),
        "looks": {"test rows": len(looks.TEST_ROW_LOOKS), "outside scans": len(looks.OUTSIDE_LOOKS)},
        "rendered_from": "model/metrics.json and the study records in model/ (braintumor.reports.cards)",
    }


def read_records(out: Path) -> dict:
    """The records a card reads (file name -> parsed JSON): the study records and the peer
    comparison under `out`/model/ where this run wrote them, else the committed ones."""
    found = {}
    for name in (*RECORDS.values(), PEER_RECORD, "scope_study.json", SCOPE_RECORD):
        for folder in (out / config.MODEL_DIR, config.REPO_ROOT / config.MODEL_DIR):
            if (folder / name).is_file():
                found[name] = json.loads((folder / name).read_text(encoding="utf-8"))
                break
    return found


def write_cards(metrics: dict, out: str | Path | None = None, records: dict | None = None) -> list[Path]:
    """Write `card.json` into each model folder under `out` (default: the output root) from
    `metrics` and `records` (default: `read_records(out)`), for the weights this run left
    there, else the committed weights; a model with neither, or no entry in `metrics`, gets none."""
    out = Path(out if out is not None else config.output_root())
    records = read_records(out) if records is None else records
    written = []
    for name in configs.NAMES:
        relative = configs.model_dir(name)
        folder = out / relative if (out / relative / configs.KERAS_FILE).is_file() else config.REPO_ROOT / relative
        path = out / relative / configs.CARD_FILE
        # the card written before for these weights, here or beside the committed ones: its digest is reused
        # when the .keras file is the same (`_weights_sha256`), so that no model is loaded only to hash it again
        beside = folder / configs.CARD_FILE
        earlier = json.loads((path if path.is_file() else beside).read_text(encoding="utf-8")) \
            if path.is_file() or beside.is_file() else {}
        made = card(name, metrics, records, folder, earlier)
        if made is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp, made=made: tmp.write_text(json.dumps(made, indent=1) + "\n", encoding="utf-8"))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the cards under the output root (or the folder given) from its metrics.json."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else config.output_root()
    metrics = json.loads((root / config.METRICS_PATH).read_text(encoding="utf-8"))
    for path in write_cards(metrics, root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

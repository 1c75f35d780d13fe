"""What model.ipynb calls: each model that ships trained from its folder, the baselines on the
same rows, the test rows scored once, and `metrics.json` written. The notebook shows the steps;
the logic is here, in small functions a test can call.

The studies (resolution, search, cross-validation, leave-one-source-out, held-out sites, the
new-scans study) are not retold here: their records are read for the sections of `metrics.json`
that the documents render (`study_sections`), and docs/ tells their story.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import config
from ..models import configs

#: The models model.ipynb trains, in its order: the design card's CNN, this dataset's model, and
#: `predict`'s default for scans from elsewhere.
TRAINED = ("reference", "single-source", "new-scans")


@dataclass
class Run:
    """One model trained from its folder: the model, its first network's fit, the train rows per
    source and the seconds (training only), and what its training step recorded beside."""

    name: str
    model: object
    fit: object
    rows: dict
    seconds: float
    fits: list = field(default_factory=list)
    record: dict = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        """Train rows seen per second of training (rows x epochs / seconds)."""
        return round(sum(self.rows.values()) * self.fit.epochs_run / max(self.seconds, 1e-9), 1)

    def summary(self) -> str:
        """One line: epochs, best epoch, seconds and rows/s."""
        return (f"{self.name}: {self.fit.epochs_run} epochs (best {self.fit.best_epoch}), {self.seconds:.0f} s, "
                f"{self.rows_per_second} rows/s on {sum(self.rows.values())} train rows")


def config_rows(name: str) -> list[dict]:
    """Model `name`'s `config.toml` as written, as rows (setting, value) for a table: the builder
    and its keywords, the full recipe (and what the check schedule changes), the training sources,
    weighting, members, seed and preprocessing."""
    written = configs.load_config(name)
    training = written["training"]
    rows = [("builder", written["architecture"]["builder"])]
    rows += [(f"architecture: {key}", value) for key, value in configs.architecture(name).items()]
    rows += [(f"recipe: {key}", value) for key, value in configs.training_recipe(name).items()]
    rows += [(f"check schedule: {key}", value) for key, value in configs.schedule_override(name).items()]
    rows += [("training sources", ", ".join(training["sources"])), ("weighting", training["weighting"]),
             ("networks averaged", training.get("members", 1)), ("seed", training["seed"]),
             ("brain extraction", written.get("preprocessing", {}).get("brain_extraction", "none"))]
    return [{"setting": key, "value": str(value)} for key, value in rows]


def row_masks(dataset, data: dict) -> dict:
    """{split: boolean mask over the dataset's rows} for the train, validation and test splits."""
    return {name: np.isin(dataset.names, part["names"]) for name, part in data.items()}


def lgg_source(schedule: str):
    """The LGG FLAIR slices (second training source of `predict`'s default) as the schedule trains
    on them, or None with the reason printed when they are not prepared (data_prep.ipynb)."""
    from ..data.dataset import DataError
    from ..data.sources import load_sources, scheduled_source

    try:
        return scheduled_source(load_sources(["lgg"])[0], schedule)
    except DataError as missing:
        print(f"new-scans model: not trained ({missing})")
        return None


def train_model(name: str, schedule: str, sources) -> Run:
    """Train model `name` from its folder (`models.training.train`, the one entry point) on `sources`."""
    from ..models.training import train

    started = time.perf_counter()
    trained = train(name, schedule, sources=sources)
    return Run(name, trained.model, trained.fit, trained.rows, time.perf_counter() - started, trained.fits)


def save(run: Run, out) -> str:
    """Save `run`'s model into its folder under `out` (`.keras` without optimizer state, and its ONNX export)."""
    from ..models.networks import save_for_inference

    path = out / configs.model_file(run.name)
    save_for_inference(run.model, path)
    return str(configs.model_file(run.name))


def train_new_scans(record: dict, a, lgg, schedule: str, out) -> Run:
    """`predict`'s default trained from its folder on A and all four LGG sites, as the new-scans
    study's `final` step trains it, and recorded in the study's record under `out`."""
    from ..studies.new_scans import model as new_scans_model, rows

    entry, model, fit = new_scans_model.trained_final(record, a, lgg, schedule,
                                                      out=out / configs.model_file(new_scans_model.CONFIG))
    written = new_scans_model.record_final(out / rows.RECORD, record, entry)
    return Run("new-scans", model, fit, entry["trained_rows"], fit.seconds, [fit], written)


def baselines(dataset, masks: dict, data_dir) -> dict:
    """The baselines on A's rows: the CSV's 13 features checked against the JPEGs, two random
    forests (the CSV's features, features recomputed from the JPEGs), the trivial slice-level
    cues (fitted, and cross-validated by groups over the train and validation rows)."""
    from ..data.features import csv_vs_image_agreement, image_features, load_csv_features, train_forest
    from ..evaluation.shortcut import cross_validated_cue_scores, slice_cues, trivial_cue_classifier

    csv_features = load_csv_features(data_dir, dataset.names)
    started = time.perf_counter()
    features = {"forest_csv_features": csv_features, "forest_image_features": image_features(dataset.images[..., 0])}
    feature_seconds = time.perf_counter() - started
    forests = {}
    for key, values in features.items():
        forest, seconds = train_forest(values[masks["train"]], dataset.labels[masks["train"]], seed=config.SEED)
        forests[key] = {"model": forest, "seconds": seconds + (feature_seconds if key == "forest_image_features" else 0),
                        "features": values}
    started = time.perf_counter()
    cues = slice_cues(dataset.images)
    cue_model = trivial_cue_classifier(config.SEED).fit(cues[masks["train"]], dataset.labels[masks["train"]])
    pool = masks["train"] | masks["val"]
    return {"agreement": csv_vs_image_agreement(csv_features, dataset.images[..., 0], dataset.names),
            "forests": forests, "cues": cues, "cue_model": cue_model, "cue_seconds": time.perf_counter() - started,
            "cue_cv": cross_validated_cue_scores(cues[pool], dataset.labels[pool], dataset.sha256[pool], seed=config.SEED)}


def test_entries(dataset, masks: dict, test, found: dict, runs: dict, threshold: float) -> tuple[dict, dict, np.ndarray]:
    """Every model on A's test rows at its own threshold (`model_entry`), with head-size-matched
    pairs; returns (models, probabilities, the pairs)."""
    from ..data.features import forest_probability
    from ..evaluation.records import majority_probability, model_entry
    from ..evaluation.shortcut import head_size_matched_pairs, matched_metrics, tertile_metrics
    from ..models.networks import predict_tumour_probability

    y, cues, forests = test["labels"], found["cues"], found["forests"]
    reference, single = runs["reference"], runs["single-source"]
    probability = {
        "majority": majority_probability(dataset.labels[masks["train"]], len(y)),
        "trivial_cues": found["cue_model"].predict_proba(cues[masks["test"]])[:, 1],
        **{key: forest_probability(forests[key]["model"], forests[key]["features"][masks["test"]]) for key in forests},
        "reference_cnn": predict_tumour_probability(reference.model, test["images"]),
        "improved_cnn": predict_tumour_probability(single.model, test["images"]),
    }
    side = {name: configs.architecture(name)["resolution"] for name in ("reference", "single-source")}
    models = {
        "majority": model_entry("Majority class: every scan called 'no tumour'", y, probability["majority"], 0.5, 0, 0.0),
        "trivial_cues": model_entry(
            "Random forest on five slice-level cues (head area, height, width, mean grey inside the head and overall)",
            y, probability["trivial_cues"], 0.5, None, found["cue_seconds"]),
        "forest_csv_features": model_entry(
            "Random forest on the 13 texture features of 'Brain Tumor.csv' (not computed from these JPEGs)",
            y, probability["forest_csv_features"], 0.5, None, forests["forest_csv_features"]["seconds"], image_derived=False),
        "forest_image_features": model_entry(
            "Random forest on first-order and GLCM features recomputed from the JPEGs", y,
            probability["forest_image_features"], 0.5, None, forests["forest_image_features"]["seconds"]),
        "reference_cnn": model_entry(f"Reference two-conv CNN at {side['reference']}x{side['reference']}", y,
                                     probability["reference_cnn"], 0.5, reference.model.count_params(), reference.seconds),
        "improved_cnn": model_entry(f"Improved CNN at {side['single-source']}x{side['single-source']}", y,
                                    probability["improved_cnn"], threshold, single.model.count_params(), single.seconds),
    }
    models["trivial_cues"]["cross_validation"] = found["cue_cv"]
    head_area = cues["head_area"].to_numpy()[masks["test"]]
    pairs = head_size_matched_pairs(head_area, y)
    for key, entry in models.items():
        entry["head_matched"] = matched_metrics(y, probability[key], entry["threshold"], pairs, head_area)
    models["improved_cnn"]["head_area_tertiles"] = tertile_metrics(head_area, y, probability["improved_cnn"], threshold)
    return models, probability, pairs


def score_outside(models: dict, runs: dict, outside) -> None:
    """Both CNNs of A on the outside scans C (evaluation only), whole and once per unique file."""
    from ..evaluation.metrics import binary_metrics
    from ..models.networks import predict_tumour_probability

    unique = np.sort(np.unique(outside.sha256, return_index=True)[1])  # the public set holds byte-identical copies
    for key, name in (("reference_cnn", "reference"), ("improved_cnn", "single-source")):
        probability = predict_tumour_probability(runs[name].model, outside.images)
        models[key]["outside"] = binary_metrics(outside.labels, probability, models[key]["threshold"])
        models[key]["outside_unique"] = binary_metrics(outside.labels[unique], probability[unique], models[key]["threshold"])


def results_table(models: dict) -> dict:
    """{model key: its figures on A's test rows, matched pairs and C} for the notebook's table."""
    return {key: {"accuracy": m["accuracy"], "sensitivity": m["sensitivity"], "specificity": m["specificity"],
                  "roc_auc": m["roc_auc"], "missed tumours": m["missed_tumours"], "threshold": m["threshold"],
                  "matched-pair ROC AUC": m["head_matched"]["roc_auc"],
                  "C ROC AUC": (m.get("outside") or {}).get("roc_auc")} for key, m in models.items()}


def study_sections(models: dict, single_source, threshold: float, source_a, outside) -> dict:
    """The sections of `metrics.json` that the studies' records hold (docs/ tells their story):
    the cross-validations' matched pairs; the two-source model (B is evaluation only, so its
    committed file is rescored, not retrained, and must match its record); the all-source and
    A + LGG models; `predict`'s default and the rules that chose it; and the single-source
    model on every held-out set (`everywhere`)."""
    from ..data.dataset import DataError
    from ..data.sources import find_extra_dir, load_sources
    from ..evaluation.records import cross_validated_matched, read_cv_records, read_json, rescored_differences, score_everywhere
    from ..models import specs
    from ..models.networks import load_model
    from ..studies import loso, site as site_study
    from ..studies.base import read_record
    from ..studies.new_scans import model as new_scans_model, rows

    committed = read_json(config.REPO_ROOT / config.METRICS_PATH)  # the study records' entries, before this run rewrites it
    extra = None
    if find_extra_dir():
        try:
            extra = load_sources(specs.SPECS["two-source"].sources, loaded={source_a.name: source_a})[1]
        except DataError:
            extra = None
    models["improved_cnn"]["everywhere"] = score_everywhere(single_source, threshold, source_a, extra, outside)
    two_source, rescored = None, {}
    if extra is not None:
        record = committed["two_source"]
        two_model = load_model(config.REPO_ROOT / specs.SPECS["two-source"].file)
        scores = score_everywhere(two_model, record["threshold"], source_a, extra, outside)
        two_source, rescored = {**record, "scores": scores}, rescored_differences(record["scores"], scores)
    loso_record, site_record = loso.read_record(), site_study.read_record()
    new_scans_record = read_record(rows.RECORD)
    return {"matched_cv": cross_validated_matched(read_cv_records()), "two_source": two_source,
            "two_source_rescored": rescored,
            "all_source": loso.all_source_entry(loso_record, (committed.get("all_source") or {}).get("input_check")),
            "a_lgg": site_study.model_entry(site_record),
            "default_model": new_scans_model.default_model_entry(
                new_scans_record, site_study.default_model_entry(site_record, loso.default_model_entry(loso_record)))}


def write_metrics(out, schedule: str, runs: dict, models: dict, threshold: float, validation: dict, data: dict,
                  found: dict, pairs, studies: dict, outside, external_dir) -> dict:
    """Write `metrics.json` under `out` (atomically) and each model folder's card; returns the metrics."""
    from ..data.input_check import fit_input_check
    from ..evaluation.metrics import THRESHOLD_RULE
    from ..evaluation.records import build_metrics, ensemble_fit_summary, fit_summary, write_json
    from ..evaluation.shortcut import PAIRING_RULE
    from ..machine import machine_description
    from ..models.networks import full_architecture, library_versions
    from ..models.recipes import HEAD_AREA_WEIGHTING_RULE, SEED_ENSEMBLE_RULE
    from ..models.training import network_seed, settings
    from ..studies.new_scans import model as new_scans_model
    from .cards import write_cards

    single, reference = runs["single-source"], runs["reference"]
    architecture, chosen = configs.architecture("single-source"), settings("single-source")
    new_scans = runs.get("new-scans")
    metrics = build_metrics(
        models=models, threshold=threshold, threshold_rule=THRESHOLD_RULE, validation=validation,
        model_file=str(configs.model_file("single-source")),
        training={"resolution": architecture["resolution"], "architecture": full_architecture(architecture),
                  "recipe": configs.training_recipe("single-source", schedule),
                  "search_choice": configs.load_config("single-source")["candidate"],
                  "weighting": chosen["weighting"], "weighting_rule": HEAD_AREA_WEIGHTING_RULE,
                  "members_rule": SEED_ENSEMBLE_RULE, "rows_per_second": single.rows_per_second,
                  **ensemble_fit_summary(single.fits, parameters=single.model.count_params(),
                                         seed=network_seed("single-source"), versions=library_versions(),
                                         machine=machine_description())},
        reference_training={"resolution": configs.architecture("reference")["resolution"],
                            "recipe": configs.training_recipe("reference", schedule),
                            "rows_per_second": reference.rows_per_second, "machine": machine_description()["cpu"],
                            **fit_summary(reference.fit)},
        split_counts={name: {"images": int(len(part["labels"])), "tumours": int(part["labels"].sum())}
                      for name, part in data.items()},
        schedule=schedule, csv_feature_check=found["agreement"],
        head_matching={"rule": PAIRING_RULE, "pairs": int(len(pairs)), "cross_validation": studies["matched_cv"]},
        input_check=fit_input_check(data["train"]["images"]),
        outside={"folder": None if external_dir is None else external_dir.name,
                 "n": None if outside is None else int(len(outside.labels))},
        two_source=studies["two_source"], all_source=studies["all_source"], a_lgg=studies["a_lgg"],
        new_scans=new_scans_model.model_entry(new_scans.record) if new_scans else None,
        default_model=studies["default_model"])
    write_json(out / config.METRICS_PATH, metrics)
    write_cards(metrics, out)
    return metrics


#: Each saved model's file budget: the single-source model's, and the resolution rule's for the reference CNN.
FILE_BUDGET_MB = {"single-source": 5, "reference": 25}


def checks(out, models: dict, pairs, test, probability: dict, studies: dict, schedule: str) -> list[tuple[str, bool]]:
    """What must hold on every run and CPU, each as (a line naming the figure beside its floor or
    bound, whether it holds): the floors a retrain clears and a broken pipeline does not
    (`evaluation.floors`, set from a seed sweep), the row counts, the file budget, and each saved
    model reloading to the same probabilities."""
    from ..evaluation.floors import check_figures, describe, floor_results
    from ..evaluation.records import RESCORED_TOLERANCE
    from ..models.networks import load_model, predict_tumour_probability

    floored = floor_results(check_figures(models["improved_cnn"], models["reference_cnn"]), schedule)
    found = [(describe(name, result), result["ok"]) for name, result in floored.items()]
    found.append((f"test rows scored: {models['improved_cnn']['n']} (753 expected)", models["improved_cnn"]["n"] == 753))
    found.append((f"head-size-matched test pairs: {len(pairs)} (at least 100)", len(pairs) >= 100))
    for name, key in (("single-source", "improved_cnn"), ("reference", "reference_cnn")):
        path = out / configs.model_file(name)
        size, budget = path.stat().st_size / 1e6, FILE_BUDGET_MB[name]
        found.append((f"{name}: model file {size:.1f} MB (at most {budget} MB), ONNX export beside it",
                      size <= budget and path.with_suffix(".onnx").is_file()))
        gap = float(np.abs(predict_tumour_probability(load_model(path), test["images"]) - probability[key]).max())
        found.append((f"{name}: reloaded file's probabilities within {gap:.1e} of the model in memory (at most 1e-5)",
                      gap <= 1e-5))
    if studies["two_source_rescored"]:
        worst = max(studies["two_source_rescored"].values())
        found.append((f"two-source model rescored within {worst:.1e} ROC AUC of its record (at most {RESCORED_TOLERANCE})",
                      worst <= RESCORED_TOLERANCE))
    return found


def setup() -> tuple:
    """Quiet the libraries' notes (they change with the install and say nothing of the results),
    set seeds and deterministic kernels once, and return (output root, schedule)."""
    from ..machine import quiet_warnings
    from ..models.networks import set_determinism

    quiet_warnings()
    set_determinism(config.TRAINING_SEED)
    return config.output_root(), config.schedule()


def new_scans_record() -> dict:
    """The new-scans study's committed record (its pick, which `final` trains)."""
    from ..studies.base import read_record
    from ..studies.new_scans import rows

    return read_record(rows.RECORD)


def agreement_line(agreement: dict) -> str:
    """One line on whether the CSV's features are the JPEGs' (`csv_vs_image_agreement`): the
    rank correlation of each feature with the same statistic recomputed from the JPEGs."""
    parts = [f"{key} Spearman {value['spearman']:.3f}" for key, value in agreement.items() if "spearman" in value]
    return "the CSV's first-order features against the same statistics of the JPEGs: " + ", ".join(parts)


def result_lines(metrics: dict) -> list[str]:
    """The run's result in a few lines: each trained model's headline figures."""
    single, reference = metrics["models"]["improved_cnn"], metrics["models"]["reference_cnn"]
    lines = [f"single-source CNN on A's {single['n']} test rows: ROC AUC {single['roc_auc']:.3f}, accuracy "
             f"{single['accuracy']:.3f} at threshold {single['threshold']:.3f}; matched pairs ROC AUC "
             f"{single['head_matched']['roc_auc']:.3f}",
             f"reference CNN on the same rows: ROC AUC {reference['roc_auc']:.3f}, accuracy {reference['accuracy']:.3f} at 0.5"]
    if "outside" in single:
        lines.append(f"outside scans C, single-source: ROC AUC {single['outside']['roc_auc']:.3f}, sensitivity "
                     f"{single['outside']['sensitivity']:.3f}, specificity {single['outside']['specificity']:.3f}")
    new_scans = metrics.get("new_scans")
    if new_scans:
        lines.append(f"new-scans model (predict's default): threshold {new_scans['threshold']:.3f}, validation ROC AUC "
                     f"A {new_scans['validation']['brain-tumor']['roc_auc']:.3f}, LGG {new_scans['validation']['lgg']['roc_auc']:.3f}")
    return lines

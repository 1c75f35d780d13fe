"""The floors `make test` asserts: set from the committed seed sweep, and able to fail."""

import json
import math

import numpy as np
import pytest

from braintumor import config
from braintumor.evaluation.floors import (RECORD_PATH, check_figures, describe, failures, floor_results,
                                          load_floors)
from braintumor.evaluation.records import RESCORED_TOLERANCE, model_entry, rescored_differences
from braintumor.evaluation.shortcut import matched_metrics

FLOORS = load_floors()


def _record() -> dict:
    return json.loads((config.REPO_ROOT / RECORD_PATH).read_text())


def test_the_sweep_record_holds_enough_seeds_and_names_its_cpu():
    record = _record()
    working = [run for run in record["runs"].values() if run["broken"] is None]
    assert len({run["seed"] for run in working}) >= 5, "issue 28: at least 5 seeds per trained check model"
    assert any(not run["onednn"] for run in working), "one run with TF_ENABLE_ONEDNN_OPTS=0"
    assert record["cpu"] and all(run["rows_per_second"] > 0 for run in record["runs"].values())
    assert set(record["broken"]) == {"shuffled labels", "one class only", "threshold the wrong way round"}
    for name, spread in record["sweep"].items():
        assert spread["n"] == len(working) and spread["min"] <= spread["median"] <= spread["max"], name


@pytest.mark.parametrize("figure", sorted(FLOORS["check"]))
def test_each_check_floor_sits_below_the_sweep_and_above_every_broken_pipeline(figure):
    record = _record()
    floor, sweep, margin = FLOORS["check"][figure], record["sweep"][figure], FLOORS["margin"]
    assert floor <= sweep["min"] - margin + 1e-12, (
        f"{figure}: floor {floor} is within {margin} of the sweep's minimum {sweep['min']:.3f}")
    for broken, figures in record["broken"].items():
        assert figures[figure] + margin <= floor + 1e-12, (
            f"{figure}: {broken} scores {figures[figure]:.3f}, not {margin} below floor {floor}")
    best_broken = max(figures[figure] for figures in record["broken"].values())
    assert floor == math.floor((best_broken + sweep["min"]) / 2 * 100) / 100, f"{figure}: not the midpoint rule"


def test_the_retrained_onnx_tolerance_holds_over_the_sweep():
    from braintumor.models.export import RETRAINED_AGREEMENT_TOLERANCE

    worst = _record()["sweep"]["improved CNN ONNX vs Keras max difference"]["max"]
    assert worst < RETRAINED_AGREEMENT_TOLERANCE / 10, f"ONNX vs Keras {worst:.1e} is near {RETRAINED_AGREEMENT_TOLERANCE}"


def _entry(labels, probability, threshold=0.4):
    entry = model_entry("m", labels, probability, threshold, None, 0)
    pairs = np.array([[k, k + 1] for k in range(0, len(labels) - 1, 2) if labels[k] != labels[k + 1]])
    entry["head_matched"] = matched_metrics(labels, probability, threshold, pairs)
    return entry


@pytest.mark.parametrize("schedule", ["full", "check"])
def test_floors_pass_a_working_model_and_fail_broken_pipelines(schedule):
    rng = np.random.default_rng(0)
    labels = (rng.random(753) < 0.45).astype(int)
    good = np.clip(labels * 0.9 + rng.normal(0.05, 0.08, 753), 0, 1)
    assert not failures(floor_results(check_figures(_entry(labels, good), _entry(labels, good)), schedule))
    broken = {
        "shuffled labels": _entry(labels, rng.random(753)),  # trained on noise: scores unrelated to the truth
        "one class": _entry(labels, np.full(753, 0.1)),
        "threshold the wrong way round": _entry(labels, 1 - good),
    }
    for name, entry in broken.items():
        message = failures(floor_results(check_figures(entry, entry), schedule))
        assert "improved CNN test ROC AUC" in message and "< floor" in message, name


def test_a_failed_floor_names_the_figure_its_value_and_its_floor():
    results = floor_results({"improved CNN test ROC AUC": 0.548}, "check",
                            floors={"check": {"improved CNN test ROC AUC": 0.55}})
    assert failures(results) == "improved CNN test ROC AUC 0.548 < floor 0.550"
    assert describe("x", {"value": 0.9, "floor": 0.8, "ok": True}) == "x 0.900 >= floor 0.800"


def test_a_floor_without_its_figure_is_an_error_not_a_pass():
    with pytest.raises(KeyError, match="disagree"):
        floor_results({}, "check")


def test_a_study_record_rescored_on_another_cpu_stays_within_tolerance_and_a_changed_model_does_not():
    recorded = {"brain_tumor_test": {"roc_auc": 0.9}, "extra_test": {"roc_auc": 0.8}}
    assert max(rescored_differences(recorded, {"brain_tumor_test": {"roc_auc": 0.90001},
                                               "extra_test": {"roc_auc": 0.8}}).values()) <= RESCORED_TOLERANCE
    assert max(rescored_differences(recorded, {"brain_tumor_test": {"roc_auc": 0.85}}).values()) > RESCORED_TOLERANCE

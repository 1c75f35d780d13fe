"""The second scope detector (rule `scope_sequence_cnn`): its input (data.scope.sequence_inputs),
the "cnn" kind of scope.json that `predict` runs with its ONNX network, the cheap cues re-set
per source, and the rule's pieces. Synthetic scans only: no real data needed."""

import json

import numpy as np
import pytest
from PIL import Image

from braintumor.data import scope
from braintumor.data.input_check import fit_input_check, fit_input_check_by_source, input_cues
from braintumor.studies.scope_cnn import steps


def _head(radius=90, grey=110, seed=0, centre=(120, 120)):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:240, :240]
    inside = np.hypot(rows - centre[0], cols - centre[1]) <= radius
    return np.where(inside, grey + rng.integers(-10, 11, (240, 240)), 0).astype(np.uint8)


def _cnn_detector(threshold=0.5, variant="head64"):
    side, extraction = scope.SEQUENCE_INPUTS[variant]
    return {"kind": "cnn", "variant": variant, "side": side, "extraction": extraction, "threshold": threshold,
            "network": "scope.onnx"}


# ---------------------------------------------------------------------------- the network's input


def test_sequence_inputs_box_the_head_and_divide_out_the_scanners_gain():
    scans = np.stack([_head(), _head(radius=50, centre=(80, 150)), np.zeros((240, 240), np.uint8)])
    inputs = scope.sequence_inputs(scans, 64, "none")
    assert inputs.shape == (3, 64, 64, 1) and inputs.dtype == np.float32
    assert 0.8 < inputs[0].max() <= 2.0 and inputs[0, 32, 32, 0] > 0.5  # the head fills the box, centred
    assert np.abs(inputs[0] - inputs[1]).mean() < 0.05  # a smaller head elsewhere gives about the same input
    assert not inputs[2].any()  # nothing above the background: zeros
    darker = scope.sequence_inputs((_head().astype(float) * 0.5).astype(np.uint8)[np.newaxis], 64, "none")
    assert np.abs(darker[0] - inputs[0]).mean() < 0.05  # half the gain, the same input


def test_a_cnn_detector_is_checked_whole():
    assert scope.check_detector(_cnn_detector())["side"] == 64
    for change, message in (({"side": 96}, "not this version's"), ({"variant": "brain128"}, "not this version's"),
                            ({"network": "../scope.onnx"}, "not the name of an .onnx file"),
                            ({"threshold": 1.5}, "not in (0, 1]")):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            scope.check_detector({**_cnn_detector(), **change})
    with pytest.raises(ValueError, match="missing network"):
        scope.check_detector({key: value for key, value in _cnn_detector().items() if key != "network"})
    with pytest.raises(ValueError, match="needs its network"):
        scope.scope_scores(_head()[np.newaxis], _cnn_detector())


class _Network:
    """Out of scope in proportion to the input's mean grey (what a real network never is)."""

    def __init__(self):
        self.seen = []

    def predict_on_batch(self, inputs):
        self.seen.append(inputs.shape)
        return np.clip(inputs.mean(axis=(1, 2, 3)), 0, 1)[:, np.newaxis]


def test_cnn_scores_come_from_the_network_on_the_variants_input_in_batches():
    network = _Network()
    scores = scope.scope_scores(np.stack([_head(seed=k) for k in range(5)]), _cnn_detector(), network, batch_size=2)
    assert scores.shape == (5,) and [shape[0] for shape in network.seen] == [2, 2, 1]
    assert all(shape[1:] == (64, 64, 1) for shape in network.seen)


# ---------------------------------------------------------------------------- the cues re-set per source


def test_per_source_ranges_keep_the_smaller_sources_spread_that_a_pooled_quantile_cuts():
    small = np.stack([_head(radius=r, seed=r) for r in range(40, 80, 2)])  # 20 scans: small heads
    large = np.stack([_head(radius=r, seed=r) for r in (110, 112, 114)])  # 3 scans: heads that fill the picture
    pooled = fit_input_check(np.concatenate([small, large]), 0.1, 0.9)
    by_source = fit_input_check_by_source({"A": small, "LGG": large}, 0.1)
    fractions = input_cues(large)["head_fraction"]
    assert fractions.max() > pooled["bounds"]["head_fraction"][1]  # pooled: the larger source sets the range
    assert by_source["bounds"]["head_fraction"][1] >= np.quantile(fractions, 0.9) - 1e-12
    assert by_source["bounds"]["head_fraction"][0] <= np.quantile(input_cues(small)["head_fraction"], 0.1) + 1e-12
    assert by_source["by_source"] == {"A": 20, "LGG": 3} and by_source["n_train"] == 23
    with pytest.raises(ValueError, match="0 <= q < 0.5"):
        fit_input_check_by_source({"A": small}, 0.5)


def test_the_cue_ladder_takes_the_first_quantile_within_the_share_and_the_last_regardless(monkeypatch):
    rng = np.random.default_rng(0)
    heads = np.stack([_head(radius=int(r), seed=k) for k, r in enumerate(rng.integers(50, 100, 60))])
    part = lambda: {"images": heads, "split": np.array(["train"] * 40 + ["val"] * 20)}  # noqa: E731
    data = {"brain-tumor": part(), "lgg": part()}
    taken = steps.reset_cues(data)
    assert taken["quantiles"][0] in steps.PARAMETERS["cue_quantiles"] and taken["decision"] == "scope_sequence_cnn"
    assert max(taken["validation_warned"].values()) <= steps.PARAMETERS["max_cue_val_warned"] or taken["quantiles"][0] == 0.0
    monkeypatch.setitem(steps.PARAMETERS, "max_cue_val_warned", -1.0)  # no quantile can do it: the last is taken
    assert steps.reset_cues(data)["quantiles"][0] == steps.PARAMETERS["cue_quantiles"][-1]


# ---------------------------------------------------------------------------- the rule's pieces


def test_the_rule_has_three_variants_each_with_its_input():
    assert len(steps.VARIANTS) <= 3 and set(steps.VARIANTS) == set(scope.SEQUENCE_INPUTS)


def test_the_loso_summary_needs_every_site_and_a_weak_site_disqualifies():
    rows = [{"variant": "brain64", "held_out_site": site, "balanced_accuracy": accuracy}
            for site, accuracy in (("CS", 0.9), ("DU", 0.8), ("FG", 0.7))]
    summary = steps.loso_summary(rows, "brain64")
    assert summary["mean"] == pytest.approx(0.8) and summary["qualifies"] is False
    assert steps.loso_summary([{**row, "balanced_accuracy": 0.8} for row in rows], "brain64")["qualifies"] is True
    with pytest.raises(ValueError, match="FG"):
        steps.loso_summary(rows[:2], "brain64")


def test_the_pick_is_the_best_unwarned_b_roc_auc_and_without_a_qualifier_the_cues_alone():
    def fitted(variant, share, auc, qualifies=True):
        return {"variant": variant, "qualifies": qualifies, "threshold": 0.7,
                "b": {"unwarned_share": share, "unwarned": int(share * 1000), "roc_auc": auc}}

    pick = steps.scope_cnn_pick([fitted("brain64", 0.4, 0.70), fitted("brain96", 0.3, 0.80), fitted("head64", 0.2, 0.9, False)])
    assert pick["outcome"] == "brain96" and pick["b_unwarned_roc_auc"] == 0.80
    assert steps.scope_cnn_pick([fitted("brain64", 0.04, None), fitted("brain96", 0.3, 0.99)])["outcome"] == "brain64"
    assert steps.scope_cnn_pick([fitted("brain64", 0.4, 0.7, False)])["outcome"] == steps.NO_DETECTOR


# ---------------------------------------------------------------------------- predict with the network


@pytest.fixture
def cnn_model(tmp_path, monkeypatch):
    """A model folder (the tumour scorer patched) whose scope.json is a "cnn" detector with its ONNX network."""
    from braintumor.predict import scoring
    from braintumor.studies.scope_cnn import network

    class _Scorer:
        def predict_on_batch(self, batch):
            return np.tile([0.3, 0.7], (len(batch), 1))

    monkeypatch.setattr(scoring, "load_runtime", lambda path, runtime=None, gradcam=False: (_Scorer(), "onnx", []))
    path = tmp_path / "model" / "mine" / "model.keras"
    path.parent.mkdir(parents=True)
    (path.parent / "card.json").write_text(json.dumps({"threshold": 0.5}))
    keras_network = network.build(64)
    network.export(keras_network, path.parent / "scope.onnx")
    (path.parent / "scope.json").write_text(json.dumps(_cnn_detector(threshold=0.01)))
    return path, keras_network


def test_predict_runs_the_onnx_network_and_its_scores_equal_the_keras_networks(tmp_path, cnn_model, capsys):
    from braintumor.cli import main
    from braintumor.studies.scope_cnn import network

    path, keras_network = cnn_model
    scans = [_head(seed=1), _head(radius=60, seed=2)]
    for k, scan in enumerate(scans):
        Image.fromarray(scan).save(tmp_path / f"scan{k}.png")
    status = main(["predict", str(tmp_path / "scan0.png"), str(tmp_path / "scan1.png"), "--model", str(path), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = network.probability(keras_network, scope.sequence_inputs(np.stack(scans), 64, "none"))
    assert status == 0 and [record["scope_score"] for record in records] == pytest.approx(expected, abs=1e-3)
    assert all("out-of-scope score" in record["warning"] for record in records)  # threshold 0.01: every scan warned


def test_a_missing_network_stops_the_run_and_a_cues_only_file_runs_without_a_detector(tmp_path, cnn_model, capsys):
    from braintumor.cli import main

    path, _ = cnn_model
    Image.fromarray(_head()).save(tmp_path / "scan.png")
    (path.parent / "scope.onnx").unlink()
    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(path)])
    err = capsys.readouterr().err
    assert status != 0 and "scope.json" in err and "scope.onnx" in err and "missing" in err
    (path.parent / "scope.json").write_text(json.dumps({"kind": "cues", "input_check": {}}))
    assert main(["predict", str(tmp_path / "scan.png"), "--model", str(path), "--json"]) == 0
    assert "scope_score" not in json.loads(capsys.readouterr().out.splitlines()[0])


def test_the_card_takes_the_re_set_cues_and_names_the_network(tmp_path):
    from braintumor.reports import cards

    cues = fit_input_check_by_source({"A": np.stack([_head(radius=r) for r in (60, 70, 80)])}, 0.0)
    (tmp_path / "scope.onnx").write_bytes(b"not read here")
    (tmp_path / "scope.json").write_text(json.dumps({**_cnn_detector(0.8), "decision": "scope_sequence_cnn",
                                                     "record": "model/scope_cnn_study.json", "input_check": cues}))
    records = {"scope_cnn_study.json": {"pick": {"outcome": "head64", "b_unwarned_share": 0.1, "b_unwarned_roc_auc": 0.9},
                                        "fitted": [{"variant": "head64", "validation_warned": {"lgg": {"detector": 0.03}}}]}}
    section = cards._scope_check(cards._scope_file("new-scans", tmp_path), records)
    assert section["network"] == "scope.onnx" and len(section["network_sha256"]) == 64 and section["threshold"] == 0.8
    assert section["record"] == "model/scope_cnn_study.json" and section["b_unwarned_share"] == 0.1
    cues_only = tmp_path / "cues"
    cues_only.mkdir()
    (cues_only / "scope.json").write_text(json.dumps({"kind": "cues", "input_check": cues}))
    assert cards._scope_check(cards._scope_file("new-scans", cues_only), records) is None

"""How often the held-out data have been looked at, as the notebooks and reports disclose it.

A held-out set stays an honest estimate only while nothing was chosen by it. The test rows
of `data/splits.csv` and the outside scans have both been scored more than once; this is
the record, kept by hand, one entry per look, so the documents can say so. A look is any
figure computed on the rows: a model scored on them, a cross-validation whose folds hold
them, a baseline whose figure a rule was written on.

Some looks are counted from the records themselves, so that the count is right the moment a
record lands: the held-out-site study's `score` step (`model/site_study.json` holding
`scores`), the peer comparison (`model/peer_comparison.json`) and every look that
`studies.base.score_once` wrote (`model/new_scans_study.json`, "looks"). `for_records` builds the
whole disclosure for a set of records; the module's names (`TEST_ROW_LOOKS`,
`TEST_ROW_HISTORY`, `OUTSIDE_LOOKS`, `OUTSIDE_HISTORY`, ...) are that of the committed records
in `model/`, which the documents are rendered from.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from .. import config
from .. import decisions as registry

#: Every look at the test rows of `data/splits.csv` (and, from the three-source study on, at the
#: other sources' test rows), oldest first. `kind` groups them in the documents' sentence.
#: Worded as recorded when each look was taken: the scripts named have since become study modules
#: (braintumor/studies/), and until 2026-12-04 the source study was also called a leave-one-source-out
#: study (configs/studies.toml names each study once now; tests/test_study_names.py).
RECORDED_TEST_ROW_LOOKS = (
    {"commit": "bc9432f", "kind": "shipped", "model": "improved CNN, global-average-pooling head (first shipped model)"},
    {"commit": "9daca0f", "kind": "shipped", "model": "improved CNN f1, flattened-map head, early stopping from epoch 8"},
    {"commit": "e6af55d", "kind": "shipped", "model": "improved CNN f5, the same network, early stopping from epoch 20"},
    {"commit": "before 2806a06", "kind": "rule", "model": "the trivial-cue baseline (head size and brightness, "
     "random forest), scored on the test rows beside the shipped models: its test accuracy is the figure the head-crop "
     "requirement (`required_preprocess`) was written on, and docs/decisions.md shows it in that row"},
    {"commit": "after 10396be", "kind": "shipped", "model": "improved CNN g1, the head-crop network, "
     "chosen by a rule fixed before it was scored and cross-validated before it met the test rows"},
    {"commit": "the source study (after 953212b)", "kind": "study", "model": "the rows of the leave-one-source-out study "
     "(model/source_study.json), scored together once, after the rule that picks among them was committed (f1f69ee)"},
    {"commit": "the two-source model (after 953212b)", "kind": "two-source", "model": "the two-source model, the network "
     "of the picked study row retrained by model.ipynb on A's and B's train rows (two identical full runs, see "
     "OUTSIDE_LOOKS)"},
    {"commit": "after 45df03f", "kind": "shipped", "model": "improved CNN g1 trained with head-area-balanced weights "
     "(shipped now), chosen by a rule fixed before its cross-validation ran, on the train and validation rows' matched "
     "pairs (the same model scored them again in the reruns noted under OUTSIDE_LOOKS, with the same figures)"},
    {"commit": "the all-source study (4044b75)", "kind": "cue table", "model": "the trivial-cue table of the "
     "leave-one-source-out study over A, B and LGG (scripts/loso_study.py `shortcut_table`, model/loso_study.json "
     "`shortcuts`): grouped 5-fold cross-validation over every row of each source, test rows included; read later by "
     "`b_out_of_training`"},
    {"commit": "the all-source study (after 776abb1)", "kind": "all-source", "model": "the all-source model (A, B and "
     "LGG slices), on the test rows of all three sources, once, by scripts/loso_study.py score after the rules that "
     "picked its variant and the default model had run (the single-source and two-source models were re-scored there: "
     "same models, same figures)"},
    # The held-out-site study and the peer comparison add their looks from their records: `record_looks`.
)

#: How each kind of look is worded in the documents' summary, in this order.
LOOK_KINDS = {
    "shipped": "{n} shipped single-source models in turn",
    "study": "the rows of a study",
    "two-source": "the two-source model",
    "cue table": "the three-source study's trivial-cue table",
    "rule": "the trivial-cue baseline whose figure a rule was written on",
    "all-source": "the all-source model",
    "site study": "the held-out-site study's models",
    "peer": "the peer comparison",
    "new-scans": "the model for scans from elsewhere",
    "scope": "the scope detector's confirmation",
}

#: How each kind of look is told in TEST_ROW_HISTORY, in this order ({n}: how many; {commits}:
#: the first shipped models' commits).
HISTORY_CLAUSES = {
    "shipped": "by {n} successive shipped single-source models (commits {commits}, the head-crop model g1, and g1 "
               "trained with weights against the head-size shortcut), the search having been widened after the first",
    "rule": "by the trivial-cue baseline whose test accuracy the head-crop requirement was written on",
    "study": "by the rows of the leave-one-source-out study, together",
    "two-source": "by the two-source model",
    "cue table": "by the three-source study's trivial-cue table, whose cross-validation folds hold the test rows",
    "all-source": "by the all-source model",
    "site study": "by the held-out-site study's A + LGG and single-source models (A's and the LGG test rows, every row "
                  "of set B), scored once after both of its rules",
    "peer": "by the peer comparison (this project's models beside the peer detect-tumor, one run)",
    "new-scans": "by the model for scans from elsewhere that `new_scans_default` chose, scored once after its rule had run",
    "scope": "by the default with the scope detector that `scope_sequence_cnn` picked, warned and unwarned scans, once after its rule had run",
}

SITE_RECORD, PEER_RECORD, NEW_SCANS_RECORD = "site_study.json", "peer_comparison.json", "new_scans_study.json"
SCOPE_RECORD = "scope_cnn_study.json"


#: Every time a model was scored on the outside scans (BRAIN_TUMOR_EXTERNAL), oldest first.
#: None of these looks chose anything: no threshold, recipe or model was picked by them.
RECORDED_OUTSIDE_LOOKS = (
    {"model": "improved CNN f5, whole picture (commit 10396be)",
     "by": "a review, through `python -m braintumor predict`, before the outside evaluation existed"},
    {"model": "improved CNN g1 (head crop) and the reference CNN, both on the 8-epoch check schedule",
     "by": "the first run of the outside evaluation while it was being built, after g1 had been chosen"},
    {"model": "improved CNN g1 (head crop, shipped) and the reference CNN, full schedule",
     "by": "model.ipynb and erroranalysis.ipynb, the run whose figures were committed at 953212b"},
    {"model": "every row of the leave-one-source-out study, including g1",
     "by": "scripts/source_study.py score, once, after the rule picking the two-source row was committed"},
    {"model": "g1, the reference CNN and the two-source model, full schedule",
     "by": "model.ipynb and erroranalysis.ipynb, the run whose figures are committed now (run twice on the same "
           "CPU, the second only to keep predict's input check with the single-source model: identical figures)"},
    {"model": "g1 trained with head-area-balanced weights (shipped now), the reference CNN and the two-source model, "
              "full schedule",
     "by": "model.ipynb and erroranalysis.ipynb, the run whose figures are committed now, after the weights were "
           "chosen on the train and validation rows (a rerun of the same commit on the same CPU gives the same figures; "
           "so did the rerun after the seed-ensemble rule kept this one network, which shipped nothing new)"},
    {"model": "the six pair models of the three-source leave-one-source-out study, the all-source model, and the "
              "single-source and two-source models again",
     "by": "scripts/loso_study.py score, once, after the rules picking the variant and the default model had run"},
)

#: SHA-256 over the sorted file hashes (`external.fingerprint`) of the outside copy the
#: committed figures come from: 252 files, the public set less one near-copy of a training scan.
OUTSIDE_FINGERPRINT = "fbe6a546a218b337f145340fa52deaa083df09d6100a374995938fcf143287b5"


def _and(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def record_looks(files: dict) -> tuple[list[dict], list[dict]]:
    """The looks the records in `files` (file name in model/ -> parsed JSON) hold: the
    held-out-site study's `score` step, once it has scores (A's test rows, the LGG test rows,
    every row of set B and the outside scans, once, after both of its rules), and the peer
    comparison (A's test rows, the LGG test rows, the outside scans and B's test rows, once).
    Returns (test-row looks, outside looks), in the order the steps run."""
    test, outside = [], []
    site = files.get(SITE_RECORD)
    if site and site.get("scores"):
        after = registry.decision("site_default").commit
        scored = _and(site["scores"])
        test.append({"commit": f"the held-out-site study (after {after})", "kind": "site study",
                     "model": f"the {scored} models on A's test rows, the LGG test rows (each site too) and every row of "
                              "set B, once, by scripts/site_study.py score after the rules that picked the variant "
                              "(`site_pick`) and the default model (`site_default`) had run; the refitted input "
                              "check's firing rates were measured there on the same rows"})
        outside.append({"model": f"every row of the held-out-site study and the {scored} models",
                        "by": "scripts/site_study.py score, once, after `site_pick` and `site_default` had run"})
    peer = files.get(PEER_RECORD)
    if peer:
        names, package = _and(peer["scores"]), peer["peer"]["package"]
        skipped = [name for name in peer["sets"] if name not in peer["scores"].get(package, {})]
        test.append({"commit": "the peer comparison", "kind": "peer",
                     "model": f"{names} on {_and(peer['sets'])}"
                              + (f" ({package} not on {_and(skipped)}: its training collection holds it)" if skipped else "")
                              + ", once, by scripts/peer_comparison.py (`make peer`), choosing nothing"})
        outside.append({"model": names, "by": "scripts/peer_comparison.py (`make peer`), once, choosing nothing"})
    for look in (files.get(NEW_SCANS_RECORD) or {}).get("looks", []):  # `studies.base.score_once`
        held_out = [name for name in look["sets"] if name != "outside"]
        if held_out:
            test.append({"commit": f"the new-scans study ({look['when']})", "kind": "new-scans",
                         "model": f"{look['what']} on {_and(held_out)}, once, by `python -m braintumor study new-scans "
                                  "score` after `new_scans_default` had run"})
        if "outside" in look["sets"]:
            outside.append({"model": look["what"], "by": "`python -m braintumor study new-scans score`, once, after "
                                                        "`new_scans_default` had run"})
    for look in (files.get(SCOPE_RECORD) or {}).get("looks", []):  # the pick's read of B, and `score_once`'s confirmation
        held_out = [name for name in look["sets"] if name != "outside"]
        if held_out:
            test.append({"commit": f"the second scope study ({look['when']})", "kind": "scope",
                         "model": f"{look['what']} on {_and(held_out)}, once, by `python -m braintumor study scope-cnn`"})
        if "outside" in look["sets"]:
            outside.append({"model": look["what"], "by": "`python -m braintumor study scope-cnn confirm`, once, after "
                                                        "`scope_sequence_cnn` had picked"})
    return test, outside


def _kinds_in_words(looks) -> str:
    unknown = {look["kind"] for look in looks} - set(LOOK_KINDS)
    if unknown:
        raise ValueError(f"TEST_ROW_LOOKS has kinds LOOK_KINDS does not word: {sorted(unknown)}")
    parts = []
    for kind, words in LOOK_KINDS.items():
        n = sum(look["kind"] == kind for look in looks)
        if n:
            parts.append(words.format(n=n) if "{n}" in words else (words if n == 1 else f"{words} ({n} looks)"))
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def _history(looks) -> str:
    commits = ", ".join([look["commit"] for look in looks if look["kind"] == "shipped"][:3])
    clauses = []
    for kind, words in HISTORY_CLAUSES.items():
        n = sum(look["kind"] == kind for look in looks)
        if n:
            clauses.append(words.format(n=n, commits=commits))
    told = "; ".join(clauses[:-1]) + "; and " + clauses[-1] if len(clauses) > 1 else "".join(clauses)
    return (f"The test rows have been looked at {len(looks)} times (`docs/decisions.md` lists each): {told}. "
            "No candidate was chosen by its figures on them, but they are no longer untouched, so the headline "
            "estimate is grouped cross-validation and the test rows confirm it.")


def for_records(files: dict | None) -> SimpleNamespace:
    """The disclosure for the records `files` (file name in model/ -> parsed JSON): every look
    at the test rows and the outside scans, and the sentences the documents say them in."""
    test, outside = record_looks(files or {})
    test_looks, outside_looks = RECORDED_TEST_ROW_LOOKS + tuple(test), RECORDED_OUTSIDE_LOOKS + tuple(outside)
    return SimpleNamespace(
        TEST_ROW_LOOKS=test_looks, LOOK_KINDS=LOOK_KINDS,
        SHIPPED_SINGLE_SOURCE_LOOKS=sum(look["kind"] == "shipped" for look in test_looks),
        TEST_ROW_KINDS=_kinds_in_words(test_looks), TEST_ROW_HISTORY=_history(test_looks),
        OUTSIDE_LOOKS=outside_looks, OUTSIDE_FINGERPRINT=OUTSIDE_FINGERPRINT,
        OUTSIDE_HISTORY=(f"The outside scans have been looked at {len(outside_looks)} times (`docs/decisions.md` lists "
                         "each), and never to choose anything; `make test` re-scores its own short-schedule models on "
                         "them without changing a choice."))


def committed_files() -> dict:
    """The committed records that add looks (`SITE_RECORD`, `PEER_RECORD`, `NEW_SCANS_RECORD`), where they are."""
    folder = config.REPO_ROOT / config.MODEL_DIR
    return {name: json.loads((folder / name).read_text()) for name in (SITE_RECORD, PEER_RECORD, NEW_SCANS_RECORD, SCOPE_RECORD)
            if (folder / name).is_file()}


COMMITTED = for_records(committed_files())
TEST_ROW_LOOKS = COMMITTED.TEST_ROW_LOOKS
SHIPPED_SINGLE_SOURCE_LOOKS = COMMITTED.SHIPPED_SINGLE_SOURCE_LOOKS
TEST_ROW_KINDS = COMMITTED.TEST_ROW_KINDS
TEST_ROW_HISTORY = COMMITTED.TEST_ROW_HISTORY
OUTSIDE_LOOKS = COMMITTED.OUTSIDE_LOOKS
OUTSIDE_HISTORY = COMMITTED.OUTSIDE_HISTORY

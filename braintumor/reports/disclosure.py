"""How often the held-out data have been looked at, as the notebooks and reports disclose it.

A held-out set stays an honest estimate only while nothing was chosen by it. The test rows
of `data/splits.csv` and the outside scans have both been scored more than once; this is
the record, kept by hand, one entry per model scored, so the documents can say so.
"""

#: Every shipped model that scored the test rows of `data/splits.csv`, oldest first.
TEST_ROW_LOOKS = (
    {"commit": "bc9432f", "model": "improved CNN, global-average-pooling head (first shipped model)"},
    {"commit": "9daca0f", "model": "improved CNN f1, flattened-map head, early stopping from epoch 8"},
    {"commit": "e6af55d", "model": "improved CNN f5, the same network, early stopping from epoch 20"},
    {"commit": "after 10396be", "model": "improved CNN g1, the head-crop network, "
     "chosen by a rule fixed before it was scored and cross-validated before it met the test rows"},
    {"commit": "the source study (after 953212b)", "model": "the rows of the leave-one-source-out study "
     "(model/source_study.json), scored together once, after the rule that picks among them was committed (f1f69ee)"},
    {"commit": "the two-source model (after 953212b)", "model": "the two-source model, the network of the picked "
     "study row retrained by model.ipynb on A's and B's train rows (two identical full runs, see OUTSIDE_LOOKS)"},
    {"commit": "after 45df03f", "model": "improved CNN g1 trained with head-area-balanced weights (shipped now), "
     "chosen by a rule fixed before its cross-validation ran, on the train and validation rows' matched pairs "
     "(the same model scored them again in the reruns noted under OUTSIDE_LOOKS, with the same figures)"},
    {"commit": "the all-source study (after 776abb1)", "model": "the all-source model (A, B and LGG slices), on the "
     "test rows of all three sources, once, by scripts/loso_study.py score after the rules that picked its variant "
     "and the default model had run (the single-source and two-source models were re-scored there: same models, "
     "same figures)"},
)

#: How many of TEST_ROW_LOOKS were single-source models shipped in turn (the rest: the study, the two-source model).
SHIPPED_SINGLE_SOURCE_LOOKS = sum(look["model"].startswith("improved CNN") for look in TEST_ROW_LOOKS)

TEST_ROW_HISTORY = (
    f"The test rows have been scored {len(TEST_ROW_LOOKS)} times (`docs/decisions.md` lists each): by "
    f"{SHIPPED_SINGLE_SOURCE_LOOKS} successive shipped single-source models (commits bc9432f, 9daca0f, e6af55d, the "
    "head-crop model g1, and g1 trained with weights against the head-size shortcut), the "
    "search having been widened after the first; by the rows of the leave-one-source-out study, together; by the "
    "two-source model; and by the all-source model. No choice was made on them, but they are no longer untouched, so the headline estimate is "
    "grouped cross-validation and the test rows confirm it."
)

#: Every time a model was scored on the outside scans (BRAIN_TUMOR_EXTERNAL), oldest first.
#: None of these looks chose anything: no threshold, recipe or model was picked by them.
OUTSIDE_LOOKS = (
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

OUTSIDE_HISTORY = (
    f"The outside scans have been looked at {len(OUTSIDE_LOOKS)} times (`docs/decisions.md` lists each), "
    "and never to choose anything; `make test` re-scores its own short-schedule models on them without "
    "changing a choice."
)

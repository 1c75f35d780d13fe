"""How well 162 head-size-matched test pairs can tell a recipe's matched-pair ROC AUC from 0.995.

Draws as many pairs as the test rows hold from the matched pairs of the train and validation
rows, scored by the shipped recipe's out-of-fold probabilities (`model/cv_results.json`), and
prints how often such a draw reaches the bar and the range it spans. Reads no test row and
trains nothing (a few seconds):

    python scripts/matched_pair_resolution.py [--pairs 162] [--bar 0.995] [--draws 5000]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.metrics import roc_auc_score

from braintumor import config
from braintumor.data.dataset import load_npz
from braintumor.evaluation.shortcut import head_size_matched_pairs, slice_cues
from braintumor.data.splits import split_masks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=162, help="pairs per draw (default: the test rows' 162)")
    parser.add_argument("--bar", type=float, default=0.995, help="the ROC AUC to reach (default 0.995)")
    parser.add_argument("--draws", type=int, default=5000, help="draws without replacement (default 5000)")
    args = parser.parse_args(argv)
    cv = json.loads(config.CV_PATH.read_text())
    if cv.get("setup", {}).get("pool") == "all" or "out_of_fold" not in cv:
        parser.error(f"{config.CV_PATH} must be a train+val cross-validation with out-of-fold probabilities (make cv)")
    dataset = load_npz()
    masks = split_masks(dataset.names)
    pool = np.flatnonzero(masks["train"] | masks["val"])  # the order cross_validate.py pools them in
    labels = dataset.labels[pool].astype(int)
    pairs = head_size_matched_pairs(slice_cues(dataset.images[pool])["head_area"].to_numpy(), labels)
    probability = np.asarray(cv["out_of_fold"]["plain"], dtype=float)
    if len(probability) != len(pool) or args.pairs > len(pairs):
        parser.error(f"{config.CV_PATH} holds {len(probability)} scans for a pool of {len(pool)}, "
                     f"{len(pairs)} pairs for draws of {args.pairs}: rerun make cv")
    rng = np.random.default_rng(config.SEED)
    aucs = np.array([roc_auc_score(labels[drawn], probability[drawn]) for drawn in
                     (pairs[rng.choice(len(pairs), args.pairs, replace=False)].ravel() for _ in range(args.draws))])
    pooled = roc_auc_score(labels[pairs.ravel()], probability[pairs.ravel()])
    low, high = np.quantile(aucs, [0.025, 0.975])
    print(f"{len(pairs)} train+val pairs, out-of-fold ROC AUC {pooled:.4f}; {args.draws} draws of {args.pairs} pairs: "
          f"{np.mean(aucs >= args.bar):.1%} reach {args.bar}, median {np.median(aucs):.4f}, "
          f"95% of draws {low:.4f}-{high:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

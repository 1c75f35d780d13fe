"""Records turned into what the templates print: verdicts and flat rows, so that the templates
only format. A cut-off that decides how a figure is worded lives here, named, not in Jinja."""

from __future__ import annotations

#: Below this specificity on scans from elsewhere, the model "calls most healthy brains 'tumour'".
MOST_HEALTHY_CALLED_TUMOUR = 0.5
#: Below this ROC AUC on scans from elsewhere, the model "does not carry" to them.
CARRIES_MIN_ROC_AUC = 0.8


def outside_verdict(outside: dict | None) -> str:
    """How the documents sum up a model's figures on scans from elsewhere: "not scored",
    "calls healthy tumour" (specificity below `MOST_HEALTHY_CALLED_TUMOUR`), "poor" (ROC AUC
    below `CARRIES_MIN_ROC_AUC`) or "lower" (carries, with lower figures than on its own set)."""
    if not outside:
        return "not scored"
    if outside["specificity"] < MOST_HEALTHY_CALLED_TUMOUR:
        return "calls healthy tumour"
    if outside["roc_auc"] < CARRIES_MIN_ROC_AUC:
        return "poor"
    return "lower"


def scores_on(metrics: dict, model_key: str, set_name: str) -> dict | None:
    """A study model's figures on one set as metrics.json keeps them (`metrics[model_key]["scores"][set_name]`),
    or None where that model or set was not scored."""
    return ((metrics.get(model_key) or {}).get("scores") or {}).get(set_name)


#: What the templates may call.
VIEWS = {"outside_verdict": outside_verdict, "scores_on": scores_on}

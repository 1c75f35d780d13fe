"""Which model a `predict` run uses: the folder `--model` names (a name of `models.configs.NAMES`,
resolved to `model/<name>/`), or a `.keras` / `.onnx` path; where a shipped model lies (the
clone first, then the copy inside the installed package); the name its lines report; its
threshold, its input-check rule and the brain extraction it runs before the network.

The threshold, the rule and the preprocessing are kept with the model, in the card beside its
weights (`model/<name>/card.json`, `reports.cards`), and so is the scope detector where the
folder has one (`scope.json`, `data.scope`), each read once per run: a model file elsewhere
reads the `card.json` in its own folder. A `pip install .` carries the model folders (setup.py
copies them into the wheel's `braintumor/shipped_models/`). Nothing here opens metrics.json, and
nothing imports `models.specs` (it reads every model's configuration when imported): `predict`
reads only the configuration of the model it runs.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..models import configs
from ..models.onnx_runtime import SCOPE_FILE  # the scope detector's file in a model folder
from .records import PredictError

DEFAULT_THRESHOLD = 0.5
#: What a card's `preprocessing.brain_extraction` means when the card (or the key) is absent: an
#: older card, written before models could ask for a brain extraction.
NO_EXTRACTION = "none"
_UNREAD = object()  # a card argument left to be read from the model's folder

#: Where a built package keeps the model folders (absent in a clone: setup.py writes it into the wheel).
SHIPPED_DIR = configs.SHIPPED_DIR
NOT_FOUND = "model not found: run from the clone or pass --model"


def _card_path(model_path: Path) -> Path:
    """card.json beside the model: where its threshold and input-check rule are kept."""
    return Path(model_path).parent / configs.CARD_FILE


def _name_of(model_path: Path) -> str:
    """The name a model file is reported by: its folder's model name (config.toml's `name`), else its path."""
    written = Path(model_path).parent / configs.CONFIG_FILE
    try:
        name = tomllib.loads(written.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError):
        name = None
    return name if isinstance(name, str) and name else str(model_path)


@dataclass(frozen=True)
class ChosenModel:
    """The model a `predict` run uses, resolved once from `--model` (`choose_model`) and passed
    down: the file, the name its lines report, its threshold, its input-check rule, the runtime
    that scores it ("onnx" or "keras") with the loaded model (`scorer`, anything with
    `predict_on_batch`), the notes that say where a setting fell back (printed once at the
    start of the run), and its card's brain extraction (`data.brain_extraction`; "none": none)."""

    name: str
    path: Path
    threshold: float
    input_rule: dict | None = None
    runtime: str | None = None
    scorer: object = None
    notes: tuple[str, ...] = ()
    preprocessing: str = NO_EXTRACTION  # the card's brain extraction, run on the scans before the network
    scope: dict | None = None  # the scope detector kept beside the model (`scope_detector`); None: none
    scope_network: object = None  # a "cnn" scope detector's network (its ONNX export, opened); None otherwise


def choose_model(choice: str | None, threshold: float | None = None, runtime: str | None = None,
                 gradcam: bool = False) -> ChosenModel:
    """The `ChosenModel` for `--model` (a name, a path or None for the default), `--threshold`
    (None: the threshold kept with the model, `default_threshold`) and `--runtime` (None: ONNX
    with a fallback to Keras; Keras when `gradcam`: `scoring.load_runtime`)."""
    path, name = resolve_model(choice)
    card = _read_card(path)  # once: the threshold, the input check and the preprocessing
    preprocessing = brain_extraction(path, card)  # a bad value stops the run before a model is loaded
    scope, scope_network = scope_detector(path)  # so does an unusable scope.json
    notes = []
    if threshold is None:
        threshold, note = default_threshold(path, card)
        notes.append(note)
    rule, note = input_check_rule(path, card)
    notes.append(note)
    from .scoring import load_runtime

    scorer, runtime, runtime_notes = load_runtime(Path(path), runtime, gradcam)
    notes.extend(runtime_notes)
    return ChosenModel(name=name, path=Path(path), threshold=float(threshold), input_rule=rule, runtime=runtime,
                       scorer=scorer, notes=tuple(note for note in notes if note), preprocessing=preprocessing,
                       scope=scope, scope_network=scope_network)


def resolve_model(choice: str | None) -> tuple[Path, str]:
    """(model file, name to report) for `--model`: the name of a model `models.roles` offers (the
    default, `roles.default_model()`, when None), whose folder is `model/<name>/`, or a path to a
    `.keras` or `.onnx` file; a file in a model folder (or a copy of one) is reported by that
    model's name. A study record's name is refused with the path that runs it anyway: it is kept
    for its figures, not offered."""
    from ..models import roles

    try:
        name = choice or roles.default_model()
        if name in configs.NAMES:
            # the default is offered by definition: its role is read only for a name given
            if choice is not None and roles.role(name) == "study record":
                raise PredictError(f"--model {name!r} is a study record, not offered by name: "
                                   f"{roles.for_scans(name)}. To run it anyway, pass its file: "
                                   f"--model {configs.model_file(name)}")
            return shipped_file(configs.model_file(name)), name
    except KeyError as missing:  # no model folder here nor in the installed package
        raise PredictError(f"{NOT_FOUND} ({missing.args[0]})") from None
    path = Path(name)
    if path.suffix not in (".keras", ".onnx") and not path.exists():
        raise PredictError(f"--model {name!r} is neither a model name ({', '.join(roles.offered())}) nor a model file.")
    return path, _name_of(path)


def shipped_file(relative: Path) -> Path:
    """A model folder's file: in the clone (the repository the package sits in, as in an
    editable install, else the current folder when it is a clone with `model/`), then inside
    the installed package (`SHIPPED_DIR`, what `pip install .` carries); `PredictError`
    (`NOT_FOUND`) when none has it."""
    relative = Path(relative)
    in_repository = config.REPO_ROOT / relative
    parts = relative.parts[1:] if relative.parts[:1] == (config.MODEL_DIR.name,) else relative.parts
    installed = SHIPPED_DIR.joinpath(*parts)
    for candidate in (in_repository, relative, installed):
        if candidate.exists() or candidate.with_suffix(".onnx").exists():
            return candidate
    raise PredictError(f"{NOT_FOUND} (looked for '{in_repository}', '{relative}' and '{installed}')")


def scope_detector(model_path: Path) -> tuple[dict | None, object]:
    """(the scope detector beside the model, its network), `models.onnx_runtime.load_scope_detector`:
    (None, None) when the folder has none or keeps the cheap cues alone. An unreadable or unusable
    file stops the run, naming it and the fix."""
    from ..models.onnx_runtime import load_scope_detector

    path = Path(model_path).parent / SCOPE_FILE
    try:
        return load_scope_detector(path.parent)
    except (OSError, ValueError) as error:
        raise PredictError(f"the scope detector '{path}' is unusable ({error}); restore it from the repository "
                           f"(git checkout -- {path.name} in its folder) or delete it to run without it") from None


def _card(model_path: Path, card=_UNREAD) -> dict:
    """The card beside `model_path`, parsed; OSError / ValueError when it cannot be read.
    `card`: what `_read_card` gave (the parsed card, or the error it met), so a run reads it once."""
    if card is _UNREAD:
        card = _read_card(model_path)
    if isinstance(card, Exception):
        raise card
    return card


def _read_card(model_path: Path) -> dict | Exception:
    """The card beside `model_path`, parsed, or the OSError / ValueError that reading it raised."""
    try:
        card = json.loads(_card_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return error
    return card if isinstance(card, dict) else ValueError("it is not a JSON object")


def default_threshold(model_path: Path, card=_UNREAD) -> tuple[float, str | None]:
    """The decision threshold tuned for the model: `threshold` in the card beside it (`card`:
    that card already read by `_read_card`).

    Returns (threshold, note); the note says why 0.5 is used instead, when it is.
    """
    card_path = _card_path(model_path)
    try:
        threshold = _card(model_path, card)["threshold"]
    except FileNotFoundError:
        reason = "it does not exist"
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = f"no readable 'threshold' in it ({type(error).__name__}: {error})"
    else:
        if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0.0 <= threshold <= 1.0:
            return float(threshold), None
        reason = f"its 'threshold' {threshold!r} is not a number in 0..1"
    return DEFAULT_THRESHOLD, f"no threshold from '{card_path}' ({reason}); using {DEFAULT_THRESHOLD}"


def input_check_rule(model_path: Path, card=_UNREAD) -> tuple[dict | None, str | None]:
    """The input-check rule kept with the model: `input_check` in the card beside it (`card`:
    that card already read by `_read_card`).

    Returns (rule, note): (None, None) when there is no such key (or no card), so predict
    works without warnings; (None, note) when the card or the key is there but unusable.
    """
    card_path = _card_path(model_path)
    try:
        rule = _card(model_path, card).get("input_check")
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, AttributeError) as error:
        return None, f"cannot read '{card_path}' ({type(error).__name__}: {error}); no input warnings this run"
    if rule is None:
        return None, None
    from ..data.input_check import check_rule

    try:
        return check_rule(rule), None
    except ValueError as error:
        return None, f"'input_check' in '{card_path}' is unusable ({error}); no input warnings this run"


def brain_extraction(model_path: Path, card=_UNREAD) -> str:
    """The brain extraction the model runs on the scans before the network: the card's
    `preprocessing.brain_extraction` (`card`: that card already read by `_read_card`), one of
    `data.brain_extraction.METHODS`. "none" (`NO_EXTRACTION`) when the card or the key is absent
    (an older card) or the card cannot be read (the threshold's note says so); a value that is
    not a method is a `PredictError` naming the card and the methods. The extraction module is
    imported only for a value other than "none"."""
    try:
        preprocessing = _card(model_path, card).get("preprocessing", {})
    except (OSError, ValueError):
        return NO_EXTRACTION
    card_path = _card_path(model_path)
    if not isinstance(preprocessing, dict):
        raise PredictError(f"'{card_path}': 'preprocessing' is {preprocessing!r}, not a table with "
                           f"'brain_extraction'; rewrite the card (python -m braintumor.reports.cards)")
    method = preprocessing.get("brain_extraction", NO_EXTRACTION)
    if method == NO_EXTRACTION:
        return NO_EXTRACTION
    from ..data.brain_extraction import METHODS

    if not isinstance(method, str) or method not in METHODS:
        raise PredictError(f"'{card_path}': preprocessing.brain_extraction = {method!r} is not a brain-extraction "
                           f"method; use one of {', '.join(map(repr, METHODS))}")
    return method

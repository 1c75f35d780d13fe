"""Paths and constants shared by the package, the notebooks and the scripts.

All paths are relative to the repository root so that notebook outputs never show a
machine-specific absolute path.
"""

import os
from pathlib import Path

#: The seed of the data split, the check schedule's row sample and every other data choice.
SEED = 42

#: The seed of network weights, dropout, augmentation and training order (`BRAIN_TUMOR_SEED`,
#: default `SEED`). Another CPU trains the same code to other weights, much as another seed
#: does, so `make check-floors` sweeps this seed to set the check schedule's floors, and CI can
#: be run with a seed the sweep never used. The split stays on `SEED` whatever this says.
SEED_ENV_VAR = "BRAIN_TUMOR_SEED"


def _training_seed() -> int:
    text = os.environ.get(SEED_ENV_VAR) or str(SEED)
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_ENV_VAR}={text!r}: give a whole number, e.g. {SEED_ENV_VAR}=43.") from None


TRAINING_SEED = _training_seed()

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Where the raw Kaggle archive is looked for when BRAIN_TUMOR_DATA is not set.
DEFAULT_RAW_DIR = Path("data/raw")
DATA_ENV_VAR = "BRAIN_TUMOR_DATA"

#: Inside the raw folder, laid out exactly as the Kaggle download unpacks.
LABELS_CSV = "Brain Tumor.csv"
IMAGE_SUBDIR = Path("Brain Tumor") / "Brain Tumor"

NPZ_PATH = Path("data/image_data.npz")
SPLITS_PATH = Path("data/splits.csv")
MODEL_DIR = Path("model")
MODEL_PATH = MODEL_DIR / "single-source" / "model.keras"  # the notebooks' model (models.configs.model_file)
METRICS_PATH = MODEL_DIR / "metrics.json"
RESOLUTION_STUDY_PATH = MODEL_DIR / "resolution_study.json"
CV_PATH = MODEL_DIR / "cv_results.json"
IMG_DIR = Path("img")

#: Where the notebooks write what they make (model, metrics, figures, reports), relative to
#: the repository root. Unset, that is the repository itself (`make reproduce`); `make test`
#: points it at a scratch folder so that the committed files stay as they were.
OUTPUT_ENV_VAR = "BRAIN_TUMOR_OUTPUT"

#: Which training schedule the notebooks use: "full" (the committed results) or "check"
#: (the same code with fewer epochs, for the regression check in `make test`).
SCHEDULE_ENV_VAR = "BRAIN_TUMOR_SCHEDULE"
SCHEDULES = ("full", "check")


def output_root() -> Path:
    """The folder the notebooks write into (see OUTPUT_ENV_VAR)."""
    return Path(os.environ.get(OUTPUT_ENV_VAR) or ".")


def schedule() -> str:
    """The training schedule asked for (see SCHEDULE_ENV_VAR); a typo stops the run."""
    name = os.environ.get(SCHEDULE_ENV_VAR) or "full"
    if name not in SCHEDULES:
        raise ValueError(f"{SCHEDULE_ENV_VAR}={name!r}: use one of {', '.join(SCHEDULES)}.")
    return name

IMAGE_SIZE = 240

#: File suffixes (lower case) read as images: by `predict` when it walks folders, and by
#: `prepare` when it matches the Kaggle folder's files to the CSV rows (the Kaggle release
#: itself only holds .jpg). One set, so that both agree on what counts as an image file.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})

#: What `predict` reads besides pictures (not used by `prepare`, which only matches the
#: Kaggle pictures): DICOM files by suffix (a folder's `.dcm` files are grouped into series;
#: DICOM files without this suffix are skipped in a folder walk, but read when named), and
#: NIfTI volumes by the end of their (lower-case) name.
DICOM_SUFFIXES = frozenset({".dcm"})
NIFTI_NAME_ENDINGS = (".nii", ".nii.gz")

CLASS_NAMES = ("no tumour", "tumour")

#: Fractions of the data in each split (test, validation); the rest is train.
TEST_FRACTION = 0.20
VAL_FRACTION = 0.16

#: Checksum of the Kaggle release this repository was built on (sha256 over every image's
#: sha256 and label, in CSV order; see `braintumor.data.dataset_fingerprint`).
KAGGLE_FINGERPRINT = "f8c1efea15c364ac24290f818fb8a4f79bee11bf303f4bb362800556419eea9f"

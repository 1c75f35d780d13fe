"""Paths and constants shared by the package, the notebooks and the scripts.

All paths are relative to the repository root so that notebook outputs never show a
machine-specific absolute path.
"""

from pathlib import Path

SEED = 42

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
MODEL_PATH = MODEL_DIR / "braintumor.keras"
REFERENCE_MODEL_PATH = MODEL_DIR / "reference_cnn.keras"
METRICS_PATH = MODEL_DIR / "metrics.json"
RESOLUTION_STUDY_PATH = MODEL_DIR / "resolution_study.json"
CV_PATH = MODEL_DIR / "cv_results.json"
IMG_DIR = Path("img")

IMAGE_SIZE = 240
CLASS_NAMES = ("no tumour", "tumour")

#: Fractions of the data in each split (test, validation); the rest is train.
TEST_FRACTION = 0.20
VAL_FRACTION = 0.16

#: Checksum of the Kaggle release this repository was built on (sha256 over every image's
#: sha256 and label, in CSV order; see `braintumor.data.dataset_fingerprint`).
KAGGLE_FINGERPRINT = "f8c1efea15c364ac24290f818fb8a4f79bee11bf303f4bb362800556419eea9f"

"""What the command line shows before anything is loaded: the runtimes, the default batch
size, the version of the `--json` lines, and the exit statuses of every subcommand.

Kept apart from `scoring` and `records` so that `python -m braintumor --help` imports
neither Pillow nor ONNX Runtime, pydicom, nibabel or TensorFlow (tests/test_cli.py).
"""

DEFAULT_BATCH_SIZE = 64
RUNTIMES = ("onnx", "keras")

#: The version of the `predict --json` lines, in each line's "schema" key: raised when a key
#: is renamed or removed, or changes meaning (a new optional key keeps it).
JSON_SCHEMA = 1

#: Exit statuses, the same for every subcommand (docs/predict.md).
EXIT_OK = 0  # every input was scored (skipped files included), or the command succeeded
EXIT_UNREADABLE = 1  # some input could not be read: each has its own error line, the rest were scored
EXIT_USAGE = 2  # a usage error, or the model or data cannot be used: nothing was done
EXIT_INTERNAL = 3  # an unexpected internal error (a bug): one line on stderr, the traceback with --debug
EXIT_BROKEN_PIPE = 141  # stdout closed before the end (e.g. `| head`): what a shell reports for SIGPIPE

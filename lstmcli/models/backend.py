"""The one place TensorFlow/Keras is imported, lazily and quietly.

Importing TensorFlow takes seconds, so only the commands that train or predict call
`import_keras()`. TensorFlow's C++ start-up lines ("Could not find cuda drivers",
"oneDNN custom operations are on", ...) are written straight to file descriptor 2 before
any Python logging is set up; they are caught during the import and dropped, and any
other line is passed on to stderr.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

from lstmcli.errors import ModelError

_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|cudart_stub\.cc|cuda_dnn\.cc|cuda_fft\.cc|"
    r"cuda_blas\.cc|cuda_executor\.cc|cpu_feature_guard\.cc|port\.cc:\d+\] oneDNN|"
    r"TF-TRT Warning|This TensorFlow binary is optimized|rebuild TensorFlow with|"
    r"computation placer already registered|Unable to register cu|external/local_xla"
)


def _import_quietly():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import keras  # noqa: TID253 - the lazy import point
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines(keepends=True):
                if line.strip() and not _NOISE.search(line):
                    sys.stderr.write(line)
    return keras


def import_keras():
    """Import Keras on the TensorFlow backend (once), without TensorFlow's start-up noise."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ errors like cuInit on CPU-only hosts
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        return _import_quietly()
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError(f"Keras/TensorFlow is not installed ({exc}); "
                         "install them with `pip install tensorflow`") from None


def versions() -> dict[str, str]:
    import platform

    import keras  # noqa: TID253
    import numpy as np
    import pandas as pd
    import tensorflow as tf  # noqa: TID253

    from lstmcli import __version__

    return {"lstmcli": __version__, "keras": keras.__version__, "tensorflow": tf.__version__,
            "numpy": np.__version__, "pandas": pd.__version__,
            "python": platform.python_version()}

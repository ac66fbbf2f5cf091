"""lstmcli: forecast CSV time series with LSTMs from the command line.

This module imports nothing else from the package, so `import lstmcli` is free.
"""

__version__ = "0.1.0"

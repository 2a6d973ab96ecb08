"""nst: neural style transfer on PyTorch and MXNet/Gluon, one interface, two implementations.

Installed, this folder is the package ``nst`` (``nst.common``, ``nst.backends``, ``nst.cli``); in a checkout the
same folders are importable as top-level ``common``, ``backends`` and ``cli``. Importing it imports no framework.
"""

__version__ = "0.1.0"

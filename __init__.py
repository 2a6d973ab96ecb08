"""nst: neural style transfer on PyTorch, MXNet/Gluon and JAX, one interface, an implementation per framework.

Installed, this folder is the package ``nst`` (``nst.common``, ``nst.backends``, ``nst.cli``); in a checkout the
same folders are importable as top-level ``common``, ``backends`` and ``cli``. Importing it imports no framework.
"""

__version__ = "0.1.0"

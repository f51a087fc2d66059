"""The flow's steps, a module per question or small family; importing this package registers them all."""

from __future__ import annotations

import importlib
import pkgutil

# Every module here registers its steps on import: a new question needs no line in any other file but its
# place in the sequence (core/flow/navigation.py).
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

"""The top-level package: the names of ``rserpool.__all__``, imported on first use."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys

import pytest

import rserpool


def test_import_is_cheap() -> None:
    """``import rserpool`` loads neither Trio nor the drivers; the first use of a name does."""
    code = (
        "import sys, rserpool\n"
        "assert not [m for m in sys.modules if m.startswith(('trio', 'rserpool.'))], sys.modules\n"
        "from rserpool import open_pool_element, open_pool_user, serve_registrar, MemoryNetwork\n"
        "assert 'rserpool.drivers.pool_element' in sys.modules\n"
        "assert 'rserpool.transport.kernel' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_exported_name_is_the_defining_modules_object() -> None:
    assert sorted(rserpool.__all__) == sorted({*rserpool._LAZY, "__version__"})
    for name, module in rserpool._LAZY.items():
        assert getattr(rserpool, name) is getattr(importlib.import_module(module), name), name
    assert set(rserpool.__all__) <= set(dir(rserpool))


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'open_pool_registrar'"):
        _ = rserpool.open_pool_registrar


def test_version_is_the_installed_one() -> None:
    assert importlib.metadata.version("rserpool") == rserpool.__version__

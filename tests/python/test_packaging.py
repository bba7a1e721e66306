# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""The installed package: typing markers shipped, stubs in step with the native module."""

from __future__ import annotations

import ast
import inspect
import os
from pathlib import Path
from typing import Dict, Set

import pytest

import cidrot
from cidrot import _cidrot

PKG = Path(cidrot.__file__).parent


def test_typing_files_are_installed() -> None:
    assert (PKG / "py.typed").is_file()
    assert (PKG / "_cidrot.pyi").is_file()


@pytest.mark.skipif(
    not os.environ.get("CIDROT_TEST_INSTALLED"), reason="only for the installed-package run"
)
def test_imported_from_outside_the_source_tree() -> None:
    # scripts/test-packages.sh sets CIDROT_TEST_INSTALLED after `pip install .` into a fresh venv.
    assert "site-packages" in cidrot.__file__
    assert "site-packages" in _cidrot.__file__


def _stub_names() -> Dict[str, Set[str]]:
    tree = ast.parse((PKG / "_cidrot.pyi").read_text())
    names: Dict[str, Set[str]] = {"": set()}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[""].add(node.name)
            names[node.name] = {
                n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AnnAssign))
            }
        elif isinstance(node, ast.FunctionDef):
            names[""].add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if not node.target.id.startswith("_"):
                names[""].add(node.target.id)
    return names


def _public(obj: object) -> Set[str]:
    own = set(vars(obj)) if inspect.isclass(obj) else set(dir(obj))
    keep = {"__init__", "__bool__", "__enter__", "__exit__", "__len__", "__iter__", "__eq__"}
    return {n for n in own if not n.startswith("_") or n in keep}


def test_stubs_match_the_native_module() -> None:
    stubs = _stub_names()
    module_names = {n for n in _public(_cidrot) if not inspect.ismodule(getattr(_cidrot, n))}
    assert module_names == stubs[""]
    for cls_name in stubs[""]:
        obj = getattr(_cidrot, cls_name)
        if not inspect.isclass(obj):
            continue
        native = _public(obj)
        if "__init__" in stubs[cls_name]:
            assert "__init__" in native, cls_name
        assert native - {"__init__"} == stubs[cls_name] - {"__init__"}, cls_name


def test_public_api_has_docstrings() -> None:
    for name in cidrot.__all__:
        obj = getattr(cidrot, name)
        if inspect.isclass(obj) or inspect.isroutine(obj):
            assert obj.__doc__, name
    for name, member in vars(_cidrot.Rotator).items():
        if not name.startswith("_") and callable(member):
            lines = [ln for ln in (member.__doc__ or "").splitlines() if ln.strip()]
            if lines and lines[0].startswith(name + "("):
                lines = lines[1:]  # pybind11 puts the signature first; a description must follow
            assert lines, f"Rotator.{name} has no docstring"
    assert inspect.signature(_cidrot.Rotator.next).parameters["ttl"].kind.name == "KEYWORD_ONLY"

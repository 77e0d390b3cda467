"""Detector settings, read-only: every DetectorConfig field with its value and its reason.

A field that is itself a group of settings (``motor_units``, the sorter's) is a branch with a row per
setting, named as ``--set`` takes them (``motor_units.NAME``).

The monitor runs the offline detector unchanged; showing the settings it
runs with (``--set`` overrides included) lets a user match a live view to
an ``analyze`` run.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields, is_dataclass
from functools import cache

from pyqtgraph.Qt import QtCore, QtWidgets

from fascdetect.config import DetectorConfig


@cache
def field_docs(cls: type = DetectorConfig) -> dict[str, str]:
    """The docstring under each field of a settings dataclass (attribute docstrings are not kept at run time)."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for stmt, after in zip(body, body[1:]):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[stmt.target.id] = " ".join(after.value.value.split())
    return docs


def format_value(value: object) -> str:
    if value is None:
        return "auto"
    if isinstance(value, tuple):
        return "–".join(f"{v:g}" for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class SettingsView(QtWidgets.QTreeWidget):
    """Name, value and (as tooltip and third column) why."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["setting", "value", "why"])
        self.setRootIsDecorated(False)

    def show_config(self, config: DetectorConfig) -> None:
        self.clear()
        self._add_rows(self, config, DetectorConfig(), "")
        self.expandAll()
        for col in (0, 1):
            self.resizeColumnToContents(col)

    def _add_rows(self, parent: QtWidgets.QTreeWidget | QtWidgets.QTreeWidgetItem, config: object, default: object,
                  prefix: str) -> None:
        docs = field_docs(type(config))
        for f in fields(config):
            value, was = getattr(config, f.name), getattr(default, f.name)
            doc = docs.get(f.name, "")
            if is_dataclass(value):
                branch = QtWidgets.QTreeWidgetItem(parent, [prefix + f.name, "", doc])
                branch.setToolTip(2, doc)
                self._add_rows(branch, value, was, f"{prefix}{f.name}.")
                continue
            shown = format_value(value) + (" (set)" if value != was else "")
            item = QtWidgets.QTreeWidgetItem(parent, [prefix + f.name, shown, doc])
            item.setToolTip(2, doc)

    def value_text(self, name: str) -> str:
        """The value shown for ``name`` (``motor_units.NAME`` for the sorter's)."""
        found = self.findItems(name, QtCore.Qt.MatchFlag.MatchExactly | QtCore.Qt.MatchFlag.MatchRecursive, 0)
        if not found:
            raise KeyError(name)
        return found[0].text(1)

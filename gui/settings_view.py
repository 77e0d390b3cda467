"""Detector settings, read-only: every DetectorConfig field with its value and its reason.

The monitor runs the offline detector unchanged; showing the settings it
runs with (``--set`` overrides included) lets a user match a live view to
an ``analyze`` run.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields
from functools import cache

from pyqtgraph.Qt import QtWidgets

from fascdetect.config import DetectorConfig


@cache
def field_docs() -> dict[str, str]:
    """The docstring under each field of DetectorConfig (attribute docstrings are not kept at run time)."""
    tree = ast.parse(inspect.getsource(DetectorConfig))
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
        docs = field_docs()
        default = DetectorConfig()
        for f in fields(config):
            value = getattr(config, f.name)
            changed = value != getattr(default, f.name)
            item = QtWidgets.QTreeWidgetItem(self, [f.name, format_value(value) + (" (set)" if changed else ""),
                                                    docs.get(f.name, "")])
            item.setToolTip(2, docs.get(f.name, ""))
        for col in (0, 1):
            self.resizeColumnToContents(col)

    def value_text(self, name: str) -> str:
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item.text(0) == name:
                return item.text(1)
        raise KeyError(name)

"""Small Qt helpers the wizard's pages share: pictures, folder rows, messages.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import QFileDialog, QLabel, QLineEdit, QPushButton, QWidget

from semsr_app.widgets.parts import side_by_side

ERROR_STYLE = "color: #e0503c;"


def pixmap(rgb_or_gray: np.ndarray, max_side: int | None = None) -> QPixmap:
    array = np.ascontiguousarray(rgb_or_gray)
    if array.ndim == 2:
        h, w = array.shape
        image = QImage(array.data, w, h, w, QImage.Format_Grayscale8)
    else:
        h, w = array.shape[:2]
        image = QImage(array.data, w, h, 3 * w, QImage.Format_RGB888)
    picture = QPixmap.fromImage(image.copy())
    if max_side and max(h, w) > max_side:
        picture = picture.scaled(max_side, max_side, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    return picture


def folder_row(edit: QLineEdit, title: str, parent: QWidget) -> QWidget:
    button = QPushButton("Browse…")

    def choose() -> None:
        folder = QFileDialog.getExistingDirectory(parent, title, edit.text())
        if folder:
            edit.setText(folder)

    button.clicked.connect(choose)
    return side_by_side(edit, button)


def message_label() -> QLabel:
    label = QLabel("")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def set_message(label: QLabel, text: str, *, error: bool = False) -> None:
    label.setStyleSheet(ERROR_STYLE if error else "")
    label.setText(text)


"""Layer 2: owning wrappers over the C handles. Each checks every status, raising
cleanclip.Error with the library's message, and frees its handle on close() or __del__."""
from __future__ import annotations

import ctypes

from . import _lib
from ._lib import lib


class Error(Exception):
    """A failed libcleanclip call: `status` is the cleanclip_status value, `status_name` its
    name (e.g. "CLEANCLIP_IO_ERROR") and `message` the library's description."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.status_name = lib.cleanclip_status_name(status).decode()
        self.message = message
        super().__init__(f"{self.status_name}: {message}")


class Cancelled(Error):
    """A long call (finetune, evaluate, ...) stopped because its progress callback returned False
    (status CLEANCLIP_CANCELLED)."""


def check(status: int) -> None:
    """Raises Error (Cancelled for CLEANCLIP_CANCELLED) for a non-zero status, with the calling
    thread's last error message."""
    if status != _lib.OK:
        cls = Cancelled if status == _lib.CANCELLED else Error
        raise cls(status, lib.cleanclip_last_error().decode("utf-8", "replace"))


class ModelHandle:
    """Owns a cleanclip_model *."""

    def __init__(self, path: bytes, options: _lib.cleanclip_model_options | None):
        self._ptr = _lib.model_p()
        check(lib.cleanclip_model_load(path, ctypes.byref(options) if options is not None else None,
                                       ctypes.byref(self._ptr)))

    @property
    def ptr(self) -> _lib.model_p:
        if not self._ptr:
            raise ValueError("the model is closed")
        return self._ptr

    def close(self) -> None:
        if self._ptr:
            lib.cleanclip_model_free(self._ptr)
            self._ptr = _lib.model_p()

    def __del__(self):
        # Interpreter shutdown may have torn down the module globals already.
        if getattr(self, "_ptr", None) and lib is not None:
            self.close()


class ClassifierHandle:
    """Owns a cleanclip_classifier * (which keeps its model alive inside the library)."""

    def __init__(self, model: ModelHandle, classnames, n_classes, templates, n_templates):
        self._ptr = _lib.classifier_p()
        check(lib.cleanclip_classifier_create(model.ptr, classnames, n_classes, templates, n_templates,
                                              ctypes.byref(self._ptr)))

    @property
    def ptr(self) -> _lib.classifier_p:
        if not self._ptr:
            raise ValueError("the classifier is closed")
        return self._ptr

    def close(self) -> None:
        if self._ptr:
            lib.cleanclip_classifier_free(self._ptr)
            self._ptr = _lib.classifier_p()

    def __del__(self):
        if getattr(self, "_ptr", None) and lib is not None:
            self.close()

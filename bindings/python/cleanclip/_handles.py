"""Layer 2: owning wrappers over the C handles. Each checks every status, raising
cleanclip.Error with the library's message, and frees its handle on close() or __del__."""
from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager

from . import _lib
from ._lib import lib


class Error(Exception):
    """A failed libcleanclip call: `status` is the cleanclip_status value, `status_name` its
    name (e.g. "CLEANCLIP_IO_ERROR") and `message` the library's description.
    `extended_status` refines `status` (cleanclip_extended_status, e.g.
    CLEANCLIP_IO_ERROR_NOT_FOUND; `extended_status & 0xff == status`), named by
    `extended_status_name`; it equals `status` when there is no finer code."""

    def __init__(self, status: int, message: str, extended_status: int | None = None):
        self.status = status
        self.status_name = lib.cleanclip_status_name(status).decode()
        self.extended_status = status if extended_status is None else extended_status
        self.extended_status_name = lib.cleanclip_status_name(self.extended_status).decode()
        self.message = message
        super().__init__(f"{self.status_name}: {message}")


class Cancelled(Error):
    """A long call (finetune, evaluate, ...) stopped because its progress callback returned False
    (status CLEANCLIP_CANCELLED)."""


def check(status: int) -> None:
    """Raises Error (Cancelled for CLEANCLIP_CANCELLED) for a non-zero status, with the calling
    thread's last error message and extended status."""
    if status != _lib.OK:
        cls = Cancelled if status == _lib.CANCELLED else Error
        raise cls(status, lib.cleanclip_last_error().decode("utf-8", "replace"), lib.cleanclip_extended_status())


class _Handle:
    """Owns one C handle that several Python threads may use.

    The C library requires that a handle is not freed while another call uses it, so every call
    runs inside `use()`, which counts it, and close() only marks the handle closed: later calls
    raise ValueError, and the handle is freed at once when no call is in flight, else by the
    last one to return. close() never waits, so it may be called from anywhere, even from a
    progress callback of a call on the same handle.

    `exclusive()` is for calls that change the model (finetune): it fails with RuntimeError
    while other calls are in flight, and while it runs, calls from other threads fail with
    RuntimeError (calls from its own thread, e.g. from its progress callback, are allowed)."""

    kind = "handle"

    def __init__(self, ptr, free):
        self._ptr = ptr
        self._free = free
        self._lock = threading.Lock()
        self._uses = 0
        self._closed = False
        self._exclusive_thread = None

    def _enter(self, exclusive: bool):
        with self._lock:
            if self._closed:
                raise ValueError(f"the {self.kind} is closed")
            me = threading.get_ident()
            if self._exclusive_thread not in (None, me):
                raise RuntimeError(f"the {self.kind} is being finetuned by another thread")
            if exclusive:
                if self._uses:
                    raise RuntimeError(f"the {self.kind} is in use by {self._uses} other call(s); finetuning needs it alone")
                self._exclusive_thread = me
            self._uses += 1
            return self._ptr

    def _exit(self, exclusive: bool) -> None:
        with self._lock:
            if exclusive:
                self._exclusive_thread = None
            self._uses -= 1
            ptr = self._ptr if self._closed and self._uses == 0 else None
            if ptr is not None:
                self._ptr = None
        if ptr is not None:
            self._free(ptr)

    @contextmanager
    def use(self):
        """The raw pointer, valid until the block ends."""
        ptr = self._enter(exclusive=False)
        try:
            yield ptr
        finally:
            self._exit(exclusive=False)

    @contextmanager
    def exclusive(self):
        """The raw pointer for a call that changes what it points to."""
        ptr = self._enter(exclusive=True)
        try:
            yield ptr
        finally:
            self._exit(exclusive=True)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            ptr = self._ptr if self._uses == 0 else None
            if ptr is not None:
                self._ptr = None
        if ptr is not None:
            self._free(ptr)

    def __del__(self):
        # Interpreter shutdown may have torn down the module globals already.
        if getattr(self, "_ptr", None) is not None and lib is not None:
            self.close()


class ModelHandle(_Handle):
    """Owns a cleanclip_model *."""

    kind = "model"

    def __init__(self, path: bytes, options: _lib.cleanclip_model_options | None):
        ptr = _lib.model_p()
        check(lib.cleanclip_model_load(path, ctypes.byref(options) if options is not None else None, ctypes.byref(ptr)))
        super().__init__(ptr, lib.cleanclip_model_free)


class ClassifierHandle(_Handle):
    """Owns a cleanclip_classifier * (which keeps its model alive inside the library)."""

    kind = "classifier"

    def __init__(self, model: ModelHandle, classnames, n_classes, templates, n_templates):
        ptr = _lib.classifier_p()
        with model.use() as model_ptr:
            check(lib.cleanclip_classifier_create(model_ptr, classnames, n_classes, templates, n_templates,
                                                  ctypes.byref(ptr)))
        super().__init__(ptr, lib.cleanclip_classifier_free)

"""``landmarks serve``: a local web page to try models on (:mod:`landmarks.serve.app`)."""

from landmarks.serve.app import ServeState, UploadError, make_server

__all__ = ["ServeState", "UploadError", "make_server"]

"""The product's errors. Surfaces translate them: the CLI to one line and a non-zero exit,
the HTTP API to a status code and `{ok: false, error, status}`."""

from __future__ import annotations


class RagError(Exception):
    """Base class: anything a user can be told in one sentence."""

    status = 500


class ConfigError(RagError):
    """A setting has a bad value, or a configured resource (model file, server) is unusable."""

    status = 500


class InputError(RagError):
    """The user's input (question, file, eval set) is not acceptable."""

    status = 400


class StoreError(RagError):
    """The store cannot be opened or does not fit (no articles, other embedding model)."""

    status = 503


class StoreUnavailableError(StoreError):
    """The store failed under a running service (Chroma server down or erroring); the same
    request may work once it is back."""

    status = 503


class EmptyStoreError(StoreError):
    """Nothing has been ingested yet."""

    status = 409


class BackendError(RagError):
    """An answer or embedding backend failed (unreachable endpoint, model crash)."""

    status = 502

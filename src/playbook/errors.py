"""The errors a user can act on: the CLI and server show their message in one line."""

from __future__ import annotations

from playbook.chat.base import ModelError
from playbook.config import ConfigError
from playbook.domain import DomainError
from playbook.files import ImportFileError
from playbook.learn import LearnError
from playbook.local import LocalModelError
from playbook.roles import RoleOutputError
from playbook.store import StoreError
from playbook.store_reviews import ReviewError

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    DomainError,
    ImportFileError,
    LearnError,
    LocalModelError,
    ModelError,
    ReviewError,
    RoleOutputError,
    StoreError,
)

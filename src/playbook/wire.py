"""OpenAI's error format on the wire, shared by `playbook serve` and the simulated model server,
so SDK clients raise their usual typed exceptions from either."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi.responses import JSONResponse


def error_response(
    status: int,
    message: str,
    kind: str,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error in OpenAI's shape, which SDK clients turn into their typed exceptions."""
    # Imported here: `playbook serve` reads its settings (which name these errors) before it
    # imports the web stack, so that its playbook loads meanwhile.
    from fastapi.responses import JSONResponse

    error = {"message": message, "type": kind, "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status, headers=headers)

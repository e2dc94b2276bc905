"""Errors the server answers in OpenAI's JSON shape, so SDK clients raise their usual exceptions
(400 BadRequestError, 401 AuthenticationError, 502/504 InternalServerError...)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from playbook.wire import error_response

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

log = logging.getLogger("playbook.server")


class ApiError(Exception):
    """An error with the HTTP status and OpenAI error fields it is answered with."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        response = error_response(
            self.status, self.message, self.kind, self.param, self.code, self.headers
        )
        if self.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


def unauthorized() -> ApiError:
    # The same words for a missing and a wrong key: nothing to learn about the keys from it.
    return ApiError(
        401,
        "missing or wrong API key; send 'Authorization: Bearer <key>' with a key the server's "
        "operator configured (serve.api_keys_env)",
        "invalid_request_error",
        code="invalid_api_key",
    )


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is larger than {limit} bytes (serve.max_request_bytes)",
        code="request_too_large",
    )


def upstream_failed(message: str, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(
        502, f"upstream: {message}", "server_error", code="upstream_error", headers=headers
    )


def upstream_timed_out(seconds: float) -> ApiError:
    return ApiError(
        504,
        f"upstream: no answer within {seconds:g} s; raise serve.timeout or check the model server",
        "server_error",
        code="upstream_timeout",
    )


def internal_error() -> ApiError:
    return ApiError(
        500, "the proxy failed on this request; see its log", "server_error", "internal_error"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app answers, including FastAPI's own 404/405/422, in OpenAI's shape."""
    # Imported here, with the app: the errors themselves are made before the web stack loads.
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # OpenAI answers malformed requests with 400, not FastAPI's 422.
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"] if p != "body") if errors else ""
        detail = errors[0]["msg"] if errors else "malformed request"
        return bad_request(f"{where}: {detail}" if where else detail, where or None).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return ApiError(exc.status_code, str(exc.detail)).response()

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # A bug of ours still answers in OpenAI's shape (the traceback goes to the log), so a
        # client's SDK raises its usual error rather than failing to read a plain-text page.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return internal_error().response()

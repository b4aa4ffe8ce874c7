"""A request id per request: on every log line of the request and echoed as X-Request-Id.

A well-formed X-Request-Id from the proxy in front is kept, so one id follows the request from
nginx to our logs; anything else is replaced by a fresh one. (The pixel and click routes answer
before Flask, for speed, and carry none.)
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from sequences import logs

HEADER = "X-Request-Id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")


def _begin() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _WELL_FORMED.fullmatch(given) else uuid.uuid4().hex
    g.log_token = logs.bind(request_id=g.request_id)


def _echo(response: Response) -> Response:
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


def _end(exc: BaseException | None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        logs.reset(token)


def init_app(app: Flask) -> None:
    # First, so the other before_request hooks (authorization) already log with the id.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_echo)
    app.teardown_request(_end)

"""Injected faults: what an armed fault makes of a Bot API call (429, 5xx, a slow answer, a dropped connection)."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from aiohttp import web

from simulator.protocol import ApiError, json_error

# What the reverse proxy in front of the Bot API answers when the Bot API itself is down: HTML, not JSON.
GATEWAY_HTML = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)
DEFAULT_DESCRIPTIONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}


@dataclass
class Fault:
    """A fault armed with LocalBotApi.inject(); `hits` counts how often it fired."""

    method: str
    status: int = 500
    times: int = 1
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    after_effect: bool = False
    description: str | None = None
    hits: int = 0

    @property
    def answers(self) -> bool:
        """Whether the fault replaces the answer (else the call succeeds, possibly late)."""
        return self.retry_after is not None or self.status >= 300

    @property
    def label(self) -> str:
        if self.drop:
            return "drop"
        if self.retry_after is not None:
            return f"429 retry_after={self.retry_after}"
        return f"status {self.status}" + (f" after {self.delay}s" if self.delay else "")


def take_fault(faults: list[Fault], method: str) -> Fault | None:
    """The first fault armed for this method, counted as fired (and disarmed once used up)."""
    for fault in faults:
        if fault.method == method and fault.times != 0:
            if fault.times > 0:
                fault.times -= 1
            fault.hits += 1
            if fault.times == 0:
                faults.remove(fault)
            return fault
    return None


def fault_response(fault: Fault) -> web.Response:
    if fault.retry_after is not None:
        description = fault.description or f"Too Many Requests: retry after {fault.retry_after}"
        return json_error(ApiError(429, description, {"retry_after": fault.retry_after}))
    status = fault.status
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if status in (502, 503, 504) and fault.description is None:
        body = GATEWAY_HTML.format(status=status, phrase=phrase)
        return web.Response(status=status, text=body, content_type="text/html")
    return json_error(ApiError(status, fault.description or DEFAULT_DESCRIPTIONS.get(status, phrase)))


def drop_connection(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        transport.close()
    # The handler is cancelled by aiohttp once the connection is gone; this answer is never sent.
    return web.Response(status=500)

"""The HTTP side of the simulated Bot API: aiohttp routes for methods and file downloads, with faults applied."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from aiohttp import web

from simulator.faults import Fault, drop_connection, fault_response, take_fault
from simulator.protocol import MAX_UPLOAD_BYTES, ApiError, JSONDict, json_error, read_params

if TYPE_CHECKING:
    from simulator.botapi import LocalBotApi

TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")


class ApiServer:
    """Serves /bot<token>/<method> and /file/bot<token>/<path> on 127.0.0.1 for one LocalBotApi."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api
        self.host = "127.0.0.1"
        self.port: int | None = None
        # Set while stopping: held-open polls answer at once and fault delays end, so cleanup never waits.
        self.closing: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self, host: str, port: int) -> None:
        if self._runner is not None:
            raise RuntimeError("LocalBotApi is already running")
        self.closing = asyncio.Event()
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.host = host
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is None:
            return
        if self.closing is not None:
            self.closing.set()
        self.api._notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def pause(self, delay: float) -> None:
        """Sleep, but not past a stop()."""
        closing = self.closing
        if closing is None:
            await asyncio.sleep(delay)
            return
        try:
            async with asyncio.timeout(delay):
                await closing.wait()
        except TimeoutError:
            pass

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        api = self.api
        token = request.match_info["token"]
        if token != api.token:
            # Telegram answers 401 to a token of the right shape and 404 to anything else.
            return json_error(
                ApiError(401, "Unauthorized") if TOKEN_SHAPE.fullmatch(token) else ApiError(404, "Not Found")
            )
        try:
            params = await read_params(request)
        except ApiError as exc:
            return json_error(exc)
        method = request.match_info["method"]
        name = api._methods.canonical(method)
        api.calls.append((name or method, params))
        api._notify()
        if name is None:
            return json_error(ApiError(404, "Not Found"))
        fault = take_fault(api.faults, name)
        if fault is None:
            return await self._run(name, params)
        return await self._run_fault(request, fault, name, params)

    async def _run(self, name: str, params: JSONDict) -> web.Response:
        try:
            result = await self.api._methods.call(name, params)
        except ApiError as exc:
            return json_error(exc)
        return web.json_response({"ok": True, "result": result})

    async def _run_fault(self, request: web.Request, fault: Fault, name: str, params: JSONDict) -> web.StreamResponse:
        self.api._emit("fault", None, None, f"{fault.method}: {fault.label}")
        effect: web.Response | None = None
        if fault.after_effect:
            effect = await self._run(name, params)
        if fault.delay > 0:
            await self.pause(fault.delay)
        if fault.drop:
            return drop_connection(request)
        if not fault.answers:
            return effect if effect is not None else await self._run(name, params)
        return fault_response(fault)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        api = self.api
        if request.match_info["token"] != api.token:
            return json_error(ApiError(401, "Unauthorized"))
        file_path = request.match_info["file_path"]
        api.calls.append(("download", {"file_path": file_path}))
        api._notify()
        fault = take_fault(api.faults, "download")
        if fault is not None:
            api._emit("fault", None, None, f"download: {fault.label}")
            if fault.delay > 0:
                await self.pause(fault.delay)
            if fault.drop:
                return drop_connection(request)
            if fault.answers:
                return fault_response(fault)
        file = api.files.at_path(file_path)
        if file is None:
            return json_error(ApiError(404, "Not Found"))
        return web.Response(body=file.content, content_type=file.mime_type or "application/octet-stream")

"""The HTTP side: Bot API requests in, JSON answers out, every call recorded; file downloads."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from bot_api_emulator.faults import Faults
from bot_api_emulator.protocol import (
    Handler,
    Params,
    json_response,
    loggable,
    maybe_int,
    read_params,
)
from bot_api_emulator.state import ApiCall, ApiError
from bot_api_emulator.world import World

_LOGGER = logging.getLogger(__name__)
_MAX_REQUEST_BYTES = 60 * 1024 * 1024


class HttpServer:
    """An aiohttp server routing ``/bot<token>/<method>`` to handlers by lower-case name."""

    def __init__(
        self,
        *,
        world: World,
        handlers: Mapping[str, Handler],
        faults: Faults,
        host: str,
        port: int,
    ) -> None:
        self._world = world
        self._handlers = handlers
        self._faults = faults
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on the host and a free port (or the one given)."""
        app = web.Application(client_max_size=_MAX_REQUEST_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self._world.token:
            return json_response(ApiError(401, "Unauthorized").payload(), 401)
        handler = self._handlers.get(method.lower())
        if handler is None:
            return self._not_emulated(method)
        try:
            params = await read_params(request)
        except ApiError as error:
            return json_response(error.payload(), error.error_code)
        call = ApiCall(
            method=method,
            params=loggable(params),
            at=self._world.monotonic(),
            chat_id=maybe_int(params.values.get("chat_id")),
        )
        self._world.calls.append(call)
        return await self._answer(call, handler, params)

    def _not_emulated(self, method: str) -> web.Response:
        # PTB reports a 404 as InvalidToken: leave a trace that names the real cause.
        _LOGGER.warning("Bot API emulator does not implement %s", method)
        self._world.calls.append(
            ApiCall(method, {}, self._world.monotonic(), False, 404, "Not Found (not emulated)")
        )
        return json_response(ApiError(404, "Not Found").payload(), 404)

    async def _answer(self, call: ApiCall, handler: Handler, params: Params) -> web.Response:
        """Run the injected faults and the method, and record the outcome on ``call``."""
        try:
            await self._faults.apply(call.method.lower(), params)
            result = await handler(params)
        except ApiError as error:
            call.ok = False
            call.error_code = error.error_code
            call.description = error.description
            self._world.notify("calls")
            return json_response(error.payload(), error.error_code)
        except Exception:
            # A bug in the emulator must not look like a network problem in the bot's tests.
            _LOGGER.exception("Bot API emulator failed on %s", call.method)
            call.ok = False
            call.error_code = 500
            call.description = "Internal Server Error"
            return json_response(ApiError(500, "Internal Server Error").payload(), 500)
        return json_response({"ok": True, "result": result}, 200)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self._world.token:
            return json_response(ApiError(401, "Unauthorized").payload(), 401)
        stored = self._world.files_by_path.get(request.match_info["path"])
        if stored is None:
            return json_response(ApiError(404, "Not Found").payload(), 404)
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

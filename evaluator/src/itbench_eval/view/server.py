"""The view's web app (Starlette) and the loopback server that runs it (uvicorn).

Read-only: every route answers GET (and HEAD) only, and files are served only from inside the
results directories given, resolved (symbolic links followed) before the check.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from itbench_eval.errors import EvalError
from itbench_eval.report import ReportError, compare_results
from itbench_eval.tasks import Task
from itbench_eval.view import pages
from itbench_eval.view.data import MAX_FILE_BYTES, ResultsDir

__all__ = [
    "LOOPBACK_NAMES",
    "SECURITY_HEADERS",
    "STATIC",
    "STATIC_TYPES",
    "ViewError",
    "bind",
    "create_app",
    "is_loopback",
    "serve",
    "url_of",
]

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {"view.css": "text/css; charset=utf-8", "view.js": "text/javascript; charset=utf-8"}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ViewError(EvalError, ValueError):
    """A bad invocation of the view (not a directory, a host that is not loopback)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback and nothing else."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(
    directories: Sequence[Path],
    *,
    tasks: Sequence[Task] | None = None,
    allowed_hosts: Sequence[str] = LOOPBACK_NAMES,
) -> Starlette:
    """The app over ``directories`` (each must exist; results.jsonl may not exist yet); ``tasks``
    are the runs' tasks, for answer keys and fault types (default: the bundled fixtures)."""
    missing = [str(path) for path in directories if not path.is_dir()]
    if missing:
        raise ViewError(f"{', '.join(missing)}: no such directory")
    if not directories:
        raise ViewError("give at least one results directory")
    given = list(tasks) if tasks is not None else None
    dirs = [ResultsDir.open(index, path, given) for index, path in enumerate(directories)]

    def stamp() -> str:
        return ";".join(f"{d.index}:{d.stamp()}" for d in dirs)

    def html(title: str, body: str, active: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(
            pages.page(title, body, active=active, stamp=stamp(), dirs=dirs),
            status_code=status,
            headers=SECURITY_HEADERS,
        )

    def not_found(what: str) -> HTMLResponse:
        return html("Not found", f'<p class="empty">{pages.e(what)}</p>', "", status=404)

    def directory(value: str) -> ResultsDir | None:
        return dirs[int(value)] if value.isdigit() and int(value) < len(dirs) else None

    def leaderboard(request: Request) -> Response:
        return html("Leaderboard", pages.leaderboard(dirs), "leaderboard")

    def matrix(request: Request) -> Response:
        return html("Runs: task × agent × repeat", pages.matrix(dirs, dict(request.query_params)), "matrix")

    def run(request: Request) -> Response:
        params = request.path_params
        found = directory(str(params["d"]))
        row = found.load().row(params["task"], params["agent"], int(params["repeat"])) if found else None
        if found is None or row is None:
            return not_found("No such run.")
        return html(f"{row.task} · {row.agent} · r{row.repeat}", pages.run_page(found, row), "")

    def running(request: Request) -> Response:
        found = directory(str(request.path_params["d"]))
        relative = str(request.path_params["path"]).strip("/")
        path = found.inside(relative) if found else None
        if found is None or path is None or not (path / "transcript.jsonl").is_file():
            return not_found("No such run.")
        if relative in {row.run_dir.strip("/") for row in found.load().rows}:
            return not_found("This run has finished: open it from the matrix.")
        return html(relative, pages.running_page(found, path), "")

    def compare(request: Request) -> Response:
        a = directory(request.query_params.get("a", "0"))
        b = directory(request.query_params.get("b", "1" if len(dirs) > 1 else "0"))
        if a is None or b is None:
            return not_found("No such results directory.")
        comparison, why = None, ""
        try:
            comparison = compare_results(a.path, b.path, force=True)
        except ReportError as error:
            why = f"no paired test: {error}"
        return html("Compare", pages.compare(a, b, dirs, comparison, why), "compare")

    def file(request: Request) -> Response:
        found = directory(str(request.path_params["d"]))
        path = found.inside(request.path_params["path"]) if found else None
        if path is None or not path.is_file():
            return PlainTextResponse("not found\n", status_code=404, headers=SECURITY_HEADERS)
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES)
        return Response(data, media_type="text/plain; charset=utf-8", headers=SECURITY_HEADERS)

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_TYPES:
            return PlainTextResponse("not found\n", status_code=404)
        return Response((STATIC / name).read_bytes(), media_type=STATIC_TYPES[name], headers=SECURITY_HEADERS)

    def state(request: Request) -> Response:
        return JSONResponse({"stamp": stamp()}, headers=SECURITY_HEADERS)

    routes = [
        Route("/", leaderboard, methods=["GET"]),
        Route("/matrix", matrix, methods=["GET"]),
        Route("/run/{d}/{task}/{agent}/{repeat:int}", run, methods=["GET"]),
        Route("/running/{d}/{path:path}", running, methods=["GET"]),
        Route("/compare", compare, methods=["GET"]),
        Route("/file/{d}/{path:path}", file, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/api/state", state, methods=["GET"]),
    ]
    return Starlette(
        routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port), refusing non-loopback hosts."""
    if not is_loopback(host):
        raise ViewError(f"--host {host}: the view listens on loopback only (127.0.0.1, ::1 or localhost)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1" if host == "localhost" else host.strip("[]"), port))
    except OSError as error:
        sock.close()
        raise ViewError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(64)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(
    directories: Sequence[Path],
    *,
    tasks: Sequence[Task] | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = True,
) -> None:
    """Serve the view until interrupted; open the browser on it when asked and one is found."""
    import uvicorn

    app = create_app(directories, tasks=tasks)
    sock = bind(host, port)
    url = url_of(sock)
    print(f"itbench-eval view: {url} (Ctrl-C stops)", flush=True)
    if open_browser:
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()

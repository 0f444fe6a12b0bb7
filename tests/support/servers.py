"""The two ways tests run the service, with one interface (`url()`, `base_url`, `database`, `data_dir`, `stop()`).

- `Service`: a real `execplanner serve` process. For what only a process shows: signals (SIGTERM, SIGHUP,
  SIGKILL), replicas sharing a database, the CLI, logs written to stderr, slow clients.
- `InProcessService`: `create_app(settings)` served by uvicorn on a free loopback port in a thread of the test
  process. Real HTTP, so tests speak to it exactly as to a process, but it starts in milliseconds rather than
  seconds (no interpreter, no imports, no subprocess); `app` is the Starlette app, for tests that set its state.

`tests/conftest.py` turns both into fixtures: `service_factory`/`service` (processes) and
`app_factory`/`app_service` (in-process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from execplanner.api.server import PromptServer


@dataclass
class Service:
    """A real `execplanner serve` process on a loopback port."""

    data_dir: Path
    database: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    base_url: str = ""
    port: int = 0
    _output: dict[str, list[str]] = field(default_factory=lambda: {"stdout": [], "stderr": []})
    _drains: list[threading.Thread] = field(default_factory=list)

    def _drain(self, name: str) -> None:
        """Keep reading one of the server's pipes, so a chatty server never blocks on a full pipe buffer."""
        stream = getattr(self.process, name)
        thread = threading.Thread(target=lambda: self._output[name].extend(iter(stream.readline, "")), daemon=True)
        thread.start()
        self._drains.append(thread)

    def communicate(self, timeout: float) -> tuple[str, str]:
        """Wait for the server to end; everything it wrote to stdout (after its first line) and stderr."""
        assert self.process is not None
        self.process.wait(timeout=timeout)
        for thread in self._drains:
            thread.join(timeout=timeout)
        return "".join(self._output["stdout"]), "".join(self._output["stderr"])

    def start(self, timeout: float = 30.0) -> Service:
        command = [
            sys.executable,
            "-m",
            "execplanner.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.database:
            command += ["--database", self.database]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "EXECPLANNER_LOG_LEVEL": "WARNING", **self.env}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
        )
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        self._drain("stderr")
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                self.base_url = line.strip().split("listening on ", 1)[1]
                self.port = int(self.base_url.rsplit(":", 1)[1])
                self._drain("stdout")
                return self
        self.process.kill()
        _, err = self.communicate(timeout=10)
        raise RuntimeError(f"execplanner serve did not start: {err[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            for thread in self._drains:
                thread.join(timeout=5)
            if self.process.stdout:
                self.process.stdout.close()
            if self.process.stderr:
                self.process.stderr.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass
class InProcessService:
    """`create_app(settings)` under uvicorn in a thread: the settings come from `env` (EXECPLANNER_* names) over
    the test process's environment, as a process would read them."""

    data_dir: Path
    database: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    port: int = 0
    app: Any = None
    _server: PromptServer | None = None
    _thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> InProcessService:
        from execplanner.api.app import create_app
        from execplanner.api.connections import uvicorn_config
        from execplanner.config import load_settings

        overrides: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "data_dir": self.data_dir}
        if self.database:
            overrides["database"] = self.database
        settings = load_settings(overrides, environ={**os.environ, **self.env})
        self.app = create_app(settings)
        # the product's own uvicorn settings (deadlines, connection limits, proxy headers), quieter
        config = uvicorn_config(self.app, settings.model_copy(update={"log_level": "warning"}))
        self._server = PromptServer(config)
        self._thread = threading.Thread(target=self._server.run, name="execplanner-in-process", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("execplanner (in process) did not start; see the captured log")
            time.sleep(0.005)  # polling start-up against a deadline, not sleeping as synchronisation
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """A graceful shutdown (the app's lifespan ends: scheduler, writer and store close); 0 when it did."""
        if sig == signal.SIGKILL:
            raise ValueError("an in-process service cannot be SIGKILLed: use service_factory for that")
        assert self._server is not None and self._thread is not None
        self._server.stop_soon()
        self._thread.join(timeout)
        return 1 if self._thread.is_alive() else 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def url(self, path: str) -> str:
        return self.base_url + path

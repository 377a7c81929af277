"""nginx from Debian as the load balancer in front of app replicas, started on loopback in a
test's folder (its configuration, logs and temporary files all there)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from sandbox.app_process import free_port
from tests.support.outside import unavailable

CONFIG = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format upstreams '$request_uri $status $upstream_addr';
    access_log {root}/access.log upstreams;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream app {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 10s;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        unavailable("nginx is not installed (CI installs it from Debian)")
    return found


@dataclass(frozen=True)
class Balancer:
    url: str
    root: Path

    def upstreams_used(self) -> dict[str, int]:
        """How many requests each upstream (host:port) answered, from the access log."""
        counts: dict[str, int] = {}
        log = self.root / "access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            upstream = line.rsplit(" ", 1)[-1]
            counts[upstream] = counts.get(upstream, 0) + 1
        return counts


@contextmanager
def nginx(root: Path, ports: list[int]) -> Iterator[Balancer]:
    """Round-robin over the apps on `ports`; yields once it answers; stopped on the way out."""
    binary = nginx_binary()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    config = root / "nginx.conf"
    config.write_text(CONFIG.format(root=root, port=port, servers=servers))
    process = subprocess.Popen(
        [binary, "-p", str(root), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=(root / "stderr.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(root / 'stderr.log').read_text()}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not answer")
            time.sleep(0.05)
        yield Balancer(url, root)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()

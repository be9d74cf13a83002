"""A real nginx (Debian's package) in front of videochat processes, run from the example site file.

    proxy = NginxProxy(tmp_dir, [server.url, other.url]).start()
    proxy.url          # https://127.0.0.1:PORT   the example's TLS server block
    proxy.plain_url    # http://127.0.0.1:PORT    the same server block without TLS (for clients
                       #                          that do not take a CA file; X-Forwarded-Proto http)
    proxy.redirect_url # http://127.0.0.1:PORT    the example's port-80 block (redirects to https)
    proxy.ca_file      # the self-signed certificate, to trust it (ssl_context(), NODE_EXTRA_CA_CERTS)
    proxy.log          # nginx's error log, for failure reports
    proxy.stop()

The site is deploy/nginx/videochat.conf itself: only its upstream servers, its `listen` lines and
its certificate paths are replaced, and each replacement must find what it expects, so a test
fails when the example breaks (or changes shape). `balance="least_conn"` swaps the sticky `hash`
line for the websocket-only variant the example describes. nginx runs as the current user with
`-p <tmp> -c <tmp>/nginx.conf`, in the foreground, every log, pid and temporary file inside tmp.

Several backends: the example's sticky hash keys on the client's address, and every test client
is 127.0.0.1, so they all reach one process. To spread clients through nginx, use websocket-only
clients with `balance="least_conn"`, or connect from other loopback addresses (127.0.0.2, ...:
`websockets.connect(..., local_addr=(address, 0))`, as tests/test_nginx.py does).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from daemon import stop_process

EXAMPLE = Path(__file__).parents[1] / "deploy" / "nginx" / "videochat.conf"
NGINX = "/usr/sbin/nginx"
START_TIMEOUT = 15.0

_UPSTREAM = re.compile(r"(upstream videochat \{)(.*?)(\n\})", re.S)
_UPSTREAM_SERVER = re.compile(r"^[ \t]*server [^;\n]+;[ \t]*\n", re.M)
_STICKY = re.compile(r"^([ \t]*)hash \$binary_remote_addr consistent;", re.M)
_SERVER_BLOCK = re.compile(r"^server \{\n.*?^\}", re.S | re.M)
_LISTEN = re.compile(r"^[ \t]*listen [^;\n]+;[ \t]*\n", re.M)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def site_config(
    backends: list[str],
    *,
    https_port: int,
    plain_port: int,
    redirect_port: int,
    cert: Path,
    key: Path,
    balance: str | None = None,
) -> str:
    """deploy/nginx/videochat.conf with test backends, listen addresses and certificate."""
    text = EXAMPLE.read_text()
    upstream = _UPSTREAM.search(text)
    assert upstream, f"{EXAMPLE}: no `upstream videochat {{ ... }}` block"
    body = upstream.group(2)
    servers = _UPSTREAM_SERVER.findall(body)
    assert servers, f"{EXAMPLE}: the upstream block lists no servers"
    lines = "".join(f"    server {_host_port(url)} max_fails=1 fail_timeout=10s;\n" for url in backends)
    body = _UPSTREAM_SERVER.sub("", body, count=len(servers) - 1)
    body = _UPSTREAM_SERVER.sub(lines, body, count=1)
    text = text[: upstream.start(2)] + body + text[upstream.end(2) :]
    if balance is not None:
        text, found = _STICKY.subn(rf"\g<1>{balance};", text)
        assert found == 1, f"{EXAMPLE}: no `hash $binary_remote_addr consistent;` to replace"

    blocks = _SERVER_BLOCK.findall(text)
    redirect = [b for b in blocks if "return 301 https://" in b]
    tls = [b for b in blocks if "ssl_certificate " in b]
    assert len(redirect) == 1 and len(tls) == 1, f"{EXAMPLE}: expected one port-80 and one TLS server block"
    listen = f"    listen 127.0.0.1:{redirect_port};\n"
    text = text.replace(redirect[0], _replace_listens(redirect[0], listen, r"listen 80;"))
    listen = f"    listen 127.0.0.1:{https_port} ssl http2;\n    listen 127.0.0.1:{plain_port};\n"
    new_tls = _replace_listens(tls[0], listen, r"listen 443 ssl")
    for directive, path in (("ssl_certificate", cert), ("ssl_certificate_key", key)):
        new_tls, found = re.subn(rf"^([ \t]*{directive}[ \t]+)[^;\n]+;", rf"\g<1>{path};", new_tls, flags=re.M)
        assert found == 1, f"{EXAMPLE}: no {directive} line in the TLS server block"
    return text.replace(tls[0], new_tls)


def _replace_listens(block: str, listen: str, expected: str) -> str:
    found = _LISTEN.findall(block)
    assert any(expected in line for line in found), f"{EXAMPLE}: no `{expected}` in a server block"
    block = _LISTEN.sub("", block, count=len(found) - 1)
    return _LISTEN.sub(listen, block, count=1)


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname and parts.port, f"expected http://HOST:PORT, got {url!r}"
    return f"{parts.hostname}:{parts.port}"


class NginxProxy:
    def __init__(self, work_dir: Path, backends: list[str], *, balance: str | None = None) -> None:
        self.work_dir = Path(work_dir)
        self.backends = list(backends)
        self.balance = balance
        self.https_port = self.plain_port = self.redirect_port = 0
        self.process: subprocess.Popen | None = None
        self.ca_file = self.work_dir / "tls" / "self-signed.crt"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def plain_url(self) -> str:
        return f"http://127.0.0.1:{self.plain_port}"

    @property
    def redirect_url(self) -> str:
        return f"http://127.0.0.1:{self.redirect_port}"

    @property
    def log(self) -> str:
        error_log = self.work_dir / "logs" / "error.log"
        output = self.work_dir / "logs" / "output.log"  # what nginx says before its error log is open
        return "".join(path.read_text() for path in (output, error_log) if path.exists())

    def access_log(self) -> list[str]:
        path = self.work_dir / "logs" / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def start(self) -> NginxProxy:
        binary = NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")
        if binary is None:
            raise RuntimeError("nginx is not installed; scripts/setup --test installs it")
        from videochat.tls import ensure_self_signed  # the certificate videochat makes for LANs

        for folder in ("logs", "temp"):
            (self.work_dir / folder).mkdir(parents=True, exist_ok=True)
        cert, key = ensure_self_signed(self.work_dir, "127.0.0.1")
        for attempt in range(3):  # a free port may be taken by someone else before nginx binds it
            (self.work_dir / "logs" / "error.log").unlink(missing_ok=True)
            ports = set()
            while len(ports) < 3:
                ports.add(free_port())
            self.https_port, self.plain_port, self.redirect_port = ports
            site = self.work_dir / "videochat.conf"
            site.write_text(
                site_config(
                    self.backends,
                    https_port=self.https_port,
                    plain_port=self.plain_port,
                    redirect_port=self.redirect_port,
                    cert=cert,
                    key=key,
                    balance=self.balance,
                )
            )
            config = self.work_dir / "nginx.conf"
            config.write_text(self._main_config(site))
            with open(self.work_dir / "logs" / "output.log", "wb") as output:
                self.process = subprocess.Popen(
                    [binary, "-p", str(self.work_dir), "-c", str(config)], stdout=output, stderr=subprocess.STDOUT
                )
            deadline = time.monotonic() + START_TIMEOUT
            while not self._answers():
                port_taken = "Address already in use" in self.log  # nginx would retry for 2.5 s
                if port_taken or self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    if port_taken and attempt < 2:
                        break
                    raise RuntimeError(f"nginx did not start with {site}:\n{self.log}")
                time.sleep(0.02)  # polling a condition with a deadline
            else:
                return self
        raise AssertionError("unreachable")

    def _main_config(self, site: Path) -> str:
        work = self.work_dir
        # When the tests run as root (in a container), nginx's workers would switch to `nobody`, who
        # cannot enter the test's private temporary folder: keep them root.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        return f"""{user}daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/logs/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {work}/logs/access.log;
    client_body_temp_path {work}/temp/client_body;
    proxy_temp_path {work}/temp/proxy;
    fastcgi_temp_path {work}/temp/fastcgi;
    uwsgi_temp_path {work}/temp/uwsgi;
    scgi_temp_path {work}/temp/scgi;
    include {site};
}}
"""

    def _answers(self) -> bool:
        """Every listening socket is bound (nginx binds them one by one) and the workers are up."""
        if "start worker process" not in self.log:
            return False
        for port in (self.https_port, self.plain_port, self.redirect_port):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    pass
            except OSError:
                return False
        return True

    def stop(self) -> None:
        # SIGTERM: nginx's fast shutdown (SIGQUIT would wait for every WebSocket to end)
        stop_process(self.process)

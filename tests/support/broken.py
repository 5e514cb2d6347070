"""Providers that fail as real ones do, on loopback: a port nobody listens on, a server that
accepts and never answers, one that answers with a fixed status and body, and one behind a
self-signed TLS certificate."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["answering", "closed_port", "self_signed_tls", "silent"]

LOOPBACK = "127.0.0.1"
#: How often the server thread looks for shutdown (seconds): the wait at the end of a test.
POLL_INTERVAL = 0.02
#: Fixed validity, so that the certificate's only fault is who signed it.
NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)


def closed_port() -> int:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def silent() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a socket that listens and never answers: the kernel
    completes the connection, nobody reads the request."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(8)
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"


def _handler(status: int, body: bytes, content_type: str) -> type[BaseHTTPRequestHandler]:
    class Fixed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self._answer()

        def _answer(self) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test reads the command's own stderr

    return Fixed


@contextmanager
def _serving(server: ThreadingHTTPServer, scheme: str) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL,), daemon=True)
    thread.start()
    try:
        yield f"{scheme}://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def answering(
    status: int, body: str = "", content_type: str = "text/html; charset=utf-8"
) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a server answering every GET and POST with ``status`` and
    ``body``."""
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(status, body.encode(), content_type))
    with _serving(server, "http") as url:
        yield url


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (no CA vouches for it): its files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def self_signed_tls(directory: Path) -> Iterator[str]:
    """``https://127.0.0.1:<port>`` of a server whose certificate is self-signed. The failed
    handshakes end in the server's accept, which drops them quietly."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*write_self_signed(directory))
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(200, b"{}", "application/json"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with _serving(server, "https") as url:
        yield url

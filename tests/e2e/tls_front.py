"""The kept sandbox's API at the https URL it was published with, for a browser: TLS on loopback, passed on as sent.

The listing's base URL is the one API Gateway gave the stage
(``https://<id>.execute-api.<region>.amazonaws.com/v1``), which the emulator cannot
serve; the sandbox serves the stage on plain HTTP at another loopback port. A
browser test maps that host name to this front (Chromium's
``--host-resolver-rules``), which holds a certificate made here for the name
(the browser context ignores that no authority signed it) and relays every
request, the preflight included, to the sandbox's gateway unchanged. Origins
stay what they are in AWS: the marketplace's and the API's differ, so the
browser enforces CORS for real.
"""

import http.client
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Hop-by-hop headers a relay does not pass on; the length is the relay's own.
_NOT_RELAYED = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


def self_signed(host: str, folder: Path) -> tuple[Path, Path]:
    """A certificate for ``host`` and its key, as PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "front.crt", folder / "front.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


class _Relay(BaseHTTPRequestHandler):
    server: "_Front"

    def relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        target = http.client.HTTPConnection(self.server.target_host, self.server.target_port, timeout=30)
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() != "connection"}
            target.request(self.command, self.path, body=body, headers=headers)
            answer = target.getresponse()
            content = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _NOT_RELAYED:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)
        finally:
            target.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = relay

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the gateway behind logs each request in the stage's access log."""


class _Front(ThreadingHTTPServer):
    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        parts = urlsplit(target)
        self.target_host, self.target_port = parts.hostname or "127.0.0.1", parts.port or 80


@contextmanager
def tls_front(host: str, gateway: str, folder: Path) -> Iterator[int]:
    """Serve ``https://<host>`` on a loopback port (yielded), relaying to ``gateway`` (``http://127.0.0.1:<port>``)."""
    cert_file, key_file = self_signed(host, folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    front = _Front(gateway)
    front.socket = context.wrap_socket(front.socket, server_side=True)
    thread = threading.Thread(target=front.serve_forever, name="tls-front", daemon=True)
    thread.start()
    try:
        yield front.server_port
    finally:
        front.shutdown()
        thread.join(10)
        front.server_close()

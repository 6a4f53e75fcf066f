"""A throw-away Dovecot IMAP server for tests: TLS only (imaps and STARTTLS on free loopback
ports, a certificate made here with cryptography), one user with a password, and XOAUTH2
tokens checked by a small introspection endpoint on loopback (Dovecot's oauth2 passdb in
``auth`` mode, as for Microsoft 365)."""

from __future__ import annotations

import datetime
import http.server
import imaplib
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA for the client to trust)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o644)  # read by Dovecot's config process only; a throw-away key
    return cert_path, key_path


class _Introspection(http.server.BaseHTTPRequestHandler):
    token = ""
    user = ""

    def do_GET(self) -> None:
        good = self.headers.get("Authorization", "") == f"Bearer {self.token}"
        body = f'{{"username": "{self.user}", "active": "true"}}'.encode() if good else b'{"error": "invalid"}'
        self.send_response(200 if good else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Dovecot:
    user = "dmarc"
    password = "s3cret-pass"
    token = "ya29.test-access-token"

    def __init__(self, dovecot: str, *, capabilities: str = "") -> None:
        self.binary = dovecot
        self.root = Path(tempfile.mkdtemp(prefix="zdv-"))
        os.chmod(self.root, 0o755)
        for sub in ("run", "mail"):
            (self.root / sub).mkdir()
            os.chmod(self.root / sub, 0o777)
        self.cert, self.key = make_certificate(self.root)
        self.starttls_port, self.imaps_port, self.plain_port = _free_port(), _free_port(), _free_port()
        handler = type("Introspection", (_Introspection,), {"token": self.token, "user": self.user})
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        nobody = 65534
        (self.root / "passwd").write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{nobody}:{nobody}::{self.root}/mail/{self.user}\n")
        (self.root / "oauth2.conf").write_text(
            f"introspection_mode = auth\nintrospection_url = http://127.0.0.1:{self.http.server_address[1]}/me\n"
            "username_attribute = username\nactive_attribute = active\nactive_value = true\n")
        (self.root / "dovecot.conf").write_text(f"""
base_dir = {self.root}/run
state_dir = {self.root}/run
log_path = {self.root}/log
verbose_proctitle = yes
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
disable_plaintext_auth = yes
auth_mechanisms = plain login xoauth2 oauthbearer
mail_location = maildir:~/Maildir
default_internal_user = nobody
default_login_user = nobody
default_internal_group = nogroup
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {self.root}/oauth2.conf
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {self.root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.starttls_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""" + (f"imap_capability = {capabilities}\n" if capabilities else ""))
        self.start()

    def start(self) -> None:
        """Start Dovecot (again, after :meth:`stop`: same ports, same mail)."""
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.imaps_port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        output = self.process.stdout.read().decode() if self.process.stdout and self.process.poll() is not None else ""
        log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
        self.close()
        raise RuntimeError(f"dovecot did not start: {output} {log}")

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def append(self, *messages: bytes) -> None:
        client = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=self.context())
        try:
            client.login(self.user, self.password)
            for message in messages:
                client.append("INBOX", None, None, message)
        finally:
            client.logout()

    def flags(self) -> list[bytes]:
        client = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=self.context())
        try:
            client.login(self.user, self.password)
            client.select("INBOX", readonly=True)
            _, data = client.fetch("1:*", "(FLAGS)")
            return [item for item in data if isinstance(item, bytes)]
        finally:
            client.logout()

    def stop(self) -> None:
        """Stop Dovecot: its IMAP processes end and every client connection is closed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    def deliver(self, message: bytes) -> None:
        """Put a message straight into the user's Maildir/new, as a local delivery agent does
        (it works while Dovecot is stopped)."""
        maildir = self.root / "mail" / self.user / "Maildir"
        name = f"{time.time_ns()}.zegel-test.{os.getpid()}"
        (maildir / "tmp" / name).write_bytes(message)
        os.chown(maildir / "tmp" / name, 65534, 65534)
        os.rename(maildir / "tmp" / name, maildir / "new" / name)

    def sessions(self) -> list[str]:
        """The process titles of this Dovecot's IMAP sessions (``dovecot/imap [dmarc 127.0.0.1
        IDLE]``, with verbose_proctitle): what the server sees its clients doing."""
        return [title for _, title in self.session_pids()]

    def session_pids(self) -> list[tuple[int, str]]:
        """(process id, title) of each IMAP session process."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != self.process.pid:
                    continue
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except (OSError, ProcessLookupError):
                continue
            if title.startswith("dovecot/imap "):
                found.append((int(entry.name), title))
        return found

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

"""A throwaway certificate authority for TLS tests, made with the `openssl` command
(P-256 keys: fast to generate). Certificates are valid for localhost and 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Issued:
    cert: str  # PEM file paths
    key: str


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


class CertAuthority:
    """A CA in `directory`; `issue` signs server or client certificates with it."""

    def __init__(self, directory: str, name: str = "Spanwise Test CA") -> None:
        self.directory = directory
        self.cert = os.path.join(directory, "ca.pem")
        self.key = os.path.join(directory, "ca.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, name: str, serial: int, client: bool = False) -> Issued:
        """A certificate for `name` (its CN and file names) with this serial number."""
        key, csr, cert = (os.path.join(self.directory, f"{name}.{ext}") for ext in ("key", "csr", "pem"))
        extensions = os.path.join(self.directory, f"{name}.ext")
        with open(extensions, "w", encoding="utf-8") as handle:
            handle.write("basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
                         f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-set_serial", str(serial),
                 "-days", "2", "-extfile", extensions, "-out", cert)
        return Issued(cert, key)

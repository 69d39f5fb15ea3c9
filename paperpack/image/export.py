"""Export an image to a file for HPC sites: a docker-archive or an OCI layout archive.

``docker-archive`` is what ``docker save`` writes; Apptainer/Singularity read it with
``apptainer build paper.sif docker-archive://paper.tar`` and Shifter's image gateway
imports it too. ``oci`` is an OCI image layout in a tar file (made from the
docker-archive, layers unchanged), for ``apptainer build paper.sif oci-archive://paper.tar``,
skopeo, podman and other OCI tools. Files are written beside the target and moved
into place, so no half-written archive is left behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import EngineError, UsageError
from ..util import docker as engine

__all__ = ["ExportResult", "export_image", "FORMATS", "usage_commands"]

FORMATS = ("docker-archive", "oci")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class ExportResult:
    image: str
    image_id: str
    path: Path
    format: str
    size: int
    duration: float
    commands: list[str]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def usage_commands(path: Path, fmt: str, image: str) -> list[str]:
    """What to run at the HPC site to use the exported file."""
    name = path.name.rsplit(".tar", 1)[0] or "paper"
    scheme = "docker-archive" if fmt == "docker-archive" else "oci-archive"
    cmds = [f"apptainer build {name}.sif {scheme}://{path}", f"singularity build {name}.sif {scheme}://{path}"]
    if fmt == "docker-archive":
        cmds += [
            f"docker load -i {path}   # or podman load -i {path}",
            f"shifterimg pull {image}   # Shifter: push the image to a registry the gateway reads",
        ]
    else:
        cmds.append(f"skopeo copy oci-archive:{path} docker-daemon:{image}")
    return cmds


def _sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _docker_archive_to_oci(archive: Path, out: Path, ref_name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="paperpack-oci-", dir=out.parent) as tmp:
        src = Path(tmp)
        with tarfile.open(archive) as tar:
            tar.extractall(src, filter="data")
        manifest = json.loads((src / "manifest.json").read_text())[0]
        config_path = src / manifest["Config"]
        config_digest, config_size = _sha256_file(config_path)
        layers = []
        for rel in manifest["Layers"]:
            digest, size = _sha256_file(src / rel)
            layers.append((src / rel, digest, size))
        oci_manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
                "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for _, d, s in layers],
            }
        ).encode()
        manifest_digest = "sha256:" + hashlib.sha256(oci_manifest).hexdigest()
        index = json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": manifest_digest,
                        "size": len(oci_manifest),
                        "annotations": {"org.opencontainers.image.ref.name": ref_name},
                    }
                ],
            }
        ).encode()
        with tarfile.open(out, "w") as tar:
            _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
            _add_bytes(tar, "index.json", index)
            _add_bytes(tar, f"blobs/sha256/{manifest_digest.split(':')[1]}", oci_manifest)
            tar.add(config_path, f"blobs/sha256/{config_digest.split(':')[1]}")
            seen = set()
            for path, digest, _ in layers:
                if digest not in seen:
                    seen.add(digest)
                    tar.add(path, f"blobs/sha256/{digest.split(':')[1]}")


def export_image(image: str, output: Path, *, fmt: str = "docker-archive") -> ExportResult:
    """Write ``image`` to ``output`` as ``fmt`` (``docker-archive`` or ``oci``)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    engine.preflight(buildx=False)
    info = engine.image_inspect(image)
    if info is None:
        raise EngineError(
            f"no image {image!r} in the local image store",
            hint="build it first with `paperpack build PATH` (it prints the image tag)",
        )
    output = Path(output).resolve()
    if not output.parent.is_dir():
        raise UsageError(f"{output.parent}: no such folder", hint="create the folder or pick another -o path")
    start = time.monotonic()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    saved = tmp  # docker-archive: what `docker save` writes; oci: converted from it
    if fmt == "oci":
        fd, saved_name = tempfile.mkstemp(prefix=".docker-save.", suffix=".part", dir=output.parent)
        os.close(fd)
        saved = Path(saved_name)
    try:
        engine.run([engine.docker_cli(), "save", "-o", str(saved), image], what=f"save {image}", timeout=3600)
        if saved != tmp:
            _docker_archive_to_oci(saved, tmp, image.rsplit(":", 1)[-1] if ":" in image else "latest")
        os.replace(tmp, output)
    finally:
        saved.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return ExportResult(
        image=image,
        image_id=str(info["Id"]),
        path=output,
        format=fmt,
        size=output.stat().st_size,
        duration=time.monotonic() - start,
        commands=usage_commands(output, fmt, image),
    )

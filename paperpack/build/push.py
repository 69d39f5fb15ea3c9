"""Push an image to its registry, with credentials from the environment.

Credentials: ``PAPERPACK_REGISTRY_USERNAME`` + ``PAPERPACK_REGISTRY_PASSWORD`` (the
registry is the image name's host), or repo2docker's
``CONTAINER_ENGINE_REGISTRY_CREDENTIALS`` JSON (``registry``, ``username``,
``password``). They are used in a temporary Docker config that is deleted afterwards;
without any, the client's own login (``docker login``) is used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from . import engine

__all__ = ["push_image", "registry_of", "credentials_from_env"]


def registry_of(image: str) -> str:
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def credentials_from_env(image: str) -> dict[str, str] | None:
    user, password = os.environ.get("PAPERPACK_REGISTRY_USERNAME"), os.environ.get("PAPERPACK_REGISTRY_PASSWORD")
    if user and password:
        return {"registry": registry_of(image), "username": user, "password": password}
    raw = os.environ.get("CONTAINER_ENGINE_REGISTRY_CREDENTIALS")
    if raw:
        try:
            creds = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError("CONTAINER_ENGINE_REGISTRY_CREDENTIALS is not valid JSON",
                              hint='set it to {"registry": …, "username": …, "password": …}') from None
        if not isinstance(creds, dict) or not {"registry", "username", "password"} <= creds.keys():
            raise ConfigError("CONTAINER_ENGINE_REGISTRY_CREDENTIALS lacks registry, username or password",
                              hint='set it to {"registry": …, "username": …, "password": …}')
        return {k: str(creds[k]) for k in ("registry", "username", "password")}
    return None


def push_image(image: str, *, progress: Callable[[str], None] | None = None) -> None:
    """``docker push image``, logging in first when credentials are in the environment."""
    creds = credentials_from_env(image)
    cli = engine.docker_cli()
    if creds is None:
        engine.stream([cli, "push", image], what=f"push {image}", on_line=progress)
        return
    tmp = Path(tempfile.mkdtemp(prefix="paperpack-docker-config-"))
    try:
        env = dict(os.environ, DOCKER_CONFIG=str(tmp))
        engine.run([cli, "login", "--username", creds["username"], "--password-stdin", creds["registry"]],
                   what=f"log in to {creds['registry']}", input=creds["password"].encode(), env=env, timeout=120)
        engine.stream([cli, "push", image], what=f"push {image}", on_line=progress, env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

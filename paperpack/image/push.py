"""Push an image to its registry, with credentials from the environment.

Credentials: ``PAPERPACK_REGISTRY_USERNAME`` + ``PAPERPACK_REGISTRY_PASSWORD`` (the
registry is the image name's host), or repo2docker's
``CONTAINER_ENGINE_REGISTRY_CREDENTIALS`` JSON (``registry``, ``username``,
``password``). They are used in a temporary Docker config that is deleted afterwards
(the user's own config is never written; only its current context is carried over, so
the push talks to the same daemon as the build); without any, the client's own login
(``docker login``) is used. Refused credentials raise :class:`ConfigError`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError, EngineError
from ..util import docker as engine

__all__ = ["push_image", "registry_of", "credentials_from_env"]

#: What docker login/push print when a registry refuses the credentials (or asks for some).
AUTH_FAILURE_MARKERS = (
    "unauthorized",
    "incorrect username or password",
    "no basic auth credentials",
    "authentication required",
    "denied:",
    "403 forbidden",
)


def registry_of(image: str) -> str:
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def credentials_from_env(image: str) -> dict[str, str] | None:
    user, password = os.environ.get("PAPERPACK_REGISTRY_USERNAME"), os.environ.get("PAPERPACK_REGISTRY_PASSWORD")
    if user and password:
        return {
            "registry": registry_of(image),
            "username": user,
            "password": password,
            "source": "PAPERPACK_REGISTRY_USERNAME and PAPERPACK_REGISTRY_PASSWORD",
        }
    raw = os.environ.get("CONTAINER_ENGINE_REGISTRY_CREDENTIALS")
    if raw:
        try:
            creds = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(
                "CONTAINER_ENGINE_REGISTRY_CREDENTIALS is not valid JSON",
                hint='set it to {"registry": …, "username": …, "password": …}',
            ) from None
        if not isinstance(creds, dict) or not {"registry", "username", "password"} <= creds.keys():
            raise ConfigError(
                "CONTAINER_ENGINE_REGISTRY_CREDENTIALS lacks registry, username or password",
                hint='set it to {"registry": …, "username": …, "password": …}',
            )
        return {
            **{k: str(creds[k]) for k in ("registry", "username", "password")},
            "source": "CONTAINER_ENGINE_REGISTRY_CREDENTIALS",
        }
    return None


def _auth_error(exc: EngineError, registry: str, fix: str) -> ConfigError | None:
    """A :class:`ConfigError` when ``exc`` says the registry refused the credentials, else None."""
    if not any(marker in exc.message.lower() for marker in AUTH_FAILURE_MARKERS):
        return None
    detail = exc.message.split("\n", 1)[-1].strip()
    return ConfigError(f"authentication failed at registry {registry}: {detail}", hint=fix)


def _user_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _temporary_config(tmp: Path) -> None:
    """The user's current context (which daemon to use) and nothing else: no credentials, no helpers."""
    user = _user_config_dir()
    try:
        current = json.loads((user / "config.json").read_text(encoding="utf-8")).get("currentContext")
    except (OSError, ValueError, AttributeError):
        current = None
    if current:
        (tmp / "config.json").write_text(json.dumps({"currentContext": current}), encoding="utf-8")
    if (user / "contexts").is_dir():
        (tmp / "contexts").symlink_to(user / "contexts", target_is_directory=True)


def push_image(image: str, *, progress: Callable[[str], None] | None = None) -> None:
    """``docker push image``, logging in first when credentials are in the environment."""
    creds = credentials_from_env(image)
    cli = engine.docker_cli()
    registry = creds["registry"] if creds else registry_of(image)
    if creds is None:
        fix = (
            f"log in first (`docker login {registry}`), or set "
            "PAPERPACK_REGISTRY_USERNAME and PAPERPACK_REGISTRY_PASSWORD"
        )
    else:
        fix = (
            f"check {creds['source']} (user {creds['username']!r}): the password or token must be valid "
            f"for {registry} and allowed to push to {image.rsplit(':', 1)[0]}"
        )
    tmp = Path(tempfile.mkdtemp(prefix="paperpack-docker-config-")) if creds else None
    try:
        env = None
        if creds and tmp:
            _temporary_config(tmp)
            env = dict(os.environ, DOCKER_CONFIG=str(tmp))
            engine.run(
                [cli, "login", "--username", creds["username"], "--password-stdin", registry],
                what=f"log in to {registry}",
                input=creds["password"].encode(),
                env=env,
                timeout=120,
            )
        engine.stream([cli, "push", image], what=f"push {image}", on_line=progress, env=env)
    except EngineError as exc:
        auth = _auth_error(exc, registry, fix)
        if auth is not None:
            raise auth from None
        raise
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

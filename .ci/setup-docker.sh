#!/usr/bin/env bash
# Install and start a Docker daemon (Debian's docker.io) plus debootstrap.
# Idempotent: reuses what is already installed and running.
set -euo pipefail

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if ((${#need_apt[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    (dockerd >/var/log/paperpack-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/paperpack-dockerd.log" >&2; tail -20 /var/log/paperpack-dockerd.log >&2; exit 1; }
fi
echo "docker $(docker version --format '{{.Server.Version}}')"

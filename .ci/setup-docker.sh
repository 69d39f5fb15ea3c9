#!/usr/bin/env bash
# Install and start a Docker daemon (Debian's docker.io) plus debootstrap.
# Idempotent: reuses what is already installed and running.
set -euo pipefail

apt_updated=0
apt_install() {  # apt-get update at most once per run
    ((apt_updated)) || { apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if ((${#need_apt[@]})); then
    apt_install "${need_apt[@]}"
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

# --- buildx plugin -----------------------------------------------------------------
# repo2docker builds through `docker buildx build`. Debian bookworm's docker.io has no
# buildx; Debian trixie's docker-buildx .deb works on bookworm. Download it with apt
# using a trixie sources list kept in a temporary folder (the machine's own apt
# configuration is not touched), then put the plugin where every docker client looks.
PLUGIN_DIR=/usr/libexec/docker/cli-plugins
if ! docker buildx version >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # The mirror this machine already uses (deb822 .sources or a one-line sources.list).
    mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
    if [ -z "$mirror" ]; then
        mirror=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -1 || true)
    fi
    [ -n "$mirror" ] || { echo "no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }
    mkdir -p "$tmp/lists/partial" "$tmp/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$tmp/sources.list"
    apt_opts=(-o "Dir::Etc::sourcelist=$tmp/sources.list" -o "Dir::Etc::sourceparts=-"
              -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache::archives=$tmp/archives"
              -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")
    apt-get "${apt_opts[@]}" update -qq
    (cd "$tmp" && apt-get "${apt_opts[@]}" download docker-buildx -qq)
    dpkg-deb -x "$tmp"/docker-buildx_*.deb "$tmp/root"
    mkdir -p "$PLUGIN_DIR"
    install -m 0755 "$tmp/root/usr/libexec/docker/cli-plugins/docker-buildx" "$PLUGIN_DIR/docker-buildx"
    rm -rf "$tmp"; trap - EXIT
fi
echo "$(docker buildx version)"

# --- docker-registry and htpasswd (for the push test) --------------------------------
# tests/integration/test_push_registry.py starts its own `docker-registry serve` on
# 127.0.0.1 with htpasswd auth (bcrypt, from apache2-utils). The package's own service
# (listening on :5000, all interfaces) must not run: invoke-rc.d is told not to start
# it (policy-rc.d, unless the machine already has one), and it is stopped and disabled
# should it run anyway.
need_apt=()
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
if ((${#need_apt[@]})); then
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 0755 "$policy"; own_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    apt_install "${need_apt[@]}"
    if ((own_policy)); then rm -f "$policy"; trap - EXIT; fi
fi
if [ -x /etc/init.d/docker-registry ]; then
    /etc/init.d/docker-registry status >/dev/null 2>&1 && /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
    update-rc.d docker-registry disable >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
fi
listening=$(ss -ltnp 2>/dev/null || true)
if grep -q '"docker-registry"' <<<"$listening"; then
    echo "a docker-registry service is still listening:" >&2; grep docker-registry <<<"$listening" >&2; exit 1
fi
echo "docker-registry $(docker-registry --version | awk '{print $3}') (no service running)"

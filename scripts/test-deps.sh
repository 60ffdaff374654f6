#!/usr/bin/env bash
# The tests drive real programs: skopeo, umoci, podman, buildah, containerd/ctr, dockerd/docker, openssl, ip,
# redis-server, docker-registry (CNCF distribution), aria2c, chromium (console tests), nginx (blob offload),
# docker-compose and debootstrap (the compose test builds its base images and brings docker-compose.yml up).
# `npm test` runs this first (and .ci/run); on a fresh Debian machine as root it installs what is missing.
set -euo pipefail
declare -A pkg_of=([skopeo]=skopeo [umoci]=umoci [podman]=podman [buildah]=buildah [ctr]=containerd [dockerd]=docker.io [openssl]=openssl [ip]=iproute2 [redis-server]=redis-server [docker-registry]=docker-registry [aria2c]=aria2 [chromium]=chromium [nginx]=nginx [docker-compose]=docker-compose [debootstrap]=debootstrap [nsenter]=util-linux)
missing=()
for bin in "${!pkg_of[@]}"; do command -v "$bin" >/dev/null 2>&1 || missing+=("${pkg_of[$bin]}"); done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "test-deps: missing programs the tests need; install the Debian packages: ${missing[*]}" >&2
  exit 1
fi

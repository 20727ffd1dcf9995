#!/usr/bin/env bash
# Installs the system tools the tests run for real: containerd (pulls images like a Bottlerocket host),
# the CNCF distribution registry, skopeo (pushes test images into it) and htpasswd (a private registry).
# Idempotent; needs root (apt-get). Runs before `npm test` (the `pretest` script).
set -euo pipefail

missing=()
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
command -v ctr >/dev/null 2>&1 || missing+=(containerd)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "test-tools: missing ${missing[*]}; install them as root: apt-get install -y containerd docker-registry skopeo apache2-utils" >&2
  exit 1
fi
echo "test-tools: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends containerd docker-registry skopeo apache2-utils >/dev/null
# The Debian packages start services on install where an init system runs; the tests start their own
# instances on private sockets and ports, so stop any that were started.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop docker-registry containerd >/dev/null 2>&1 || true
fi

#!/usr/bin/env bash
# Installs the system tools the tests run for real: containerd (pulls images like a Bottlerocket host),
# the CNCF distribution registry, skopeo (pushes test images into it), htpasswd (a private registry) and
# cfn-lint (lints the synthesized CloudFormation templates).
# Idempotent; needs root (apt-get). Runs before `npm test` (the `pretest` script).
set -euo pipefail

# cfn-lint has no Debian package (bookworm): it comes from PyPI through pipx (from apt), installed into
# /usr/local/bin so that it is on every PATH. test/infra/templates.test.ts fails, naming these ways, without it.
install_cfn_lint() {
  command -v cfn-lint >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "test-tools: cfn-lint is missing; install it with 'pipx install cfn-lint' or 'pip install cfn-lint', or run this script as root" >&2
    return 1
  fi
  echo "test-tools: installing cfn-lint with pipx" >&2
  if ! command -v pipx >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pipx >/dev/null
  fi
  PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin pipx install cfn-lint >/dev/null
}
cfn_lint_status=0
install_cfn_lint || cfn_lint_status=1

missing=()
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
command -v ctr >/dev/null 2>&1 || missing+=(containerd)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)

if [ ${#missing[@]} -eq 0 ]; then
  exit "$cfn_lint_status"
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
exit "$cfn_lint_status"

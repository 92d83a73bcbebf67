#!/bin/bash
# Installs every Debian package the build, the tests and the VM harness need
# (only what is missing; apt-get runs only then).
set -euo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/vm/lib.sh"
vm_ensure_packages

#!/usr/bin/env bash
# Install the Debian packages named as arguments that are not installed yet.
#
# Runs apt-get (with sudo when not root) only when something is missing, so a
# machine that has everything never touches the network.
set -euo pipefail

missing=()
for package in "$@"; do
    status=$(dpkg-query --show --showformat='${db:Status-Status}' "$package" \
        2>/dev/null || true)
    if [ "$status" != installed ]; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root: apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "Installing Debian packages: ${missing[*]}"
# Wait for another apt or unattended-upgrades run instead of failing at once.
apt_options=(-o DPkg::Lock::Timeout=300)
"${as_root[@]}" apt-get "${apt_options[@]}" update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get "${apt_options[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}"

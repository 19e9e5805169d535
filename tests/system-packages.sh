#!/bin/sh
# Installs the Debian packages the tests drive for real (tmux for the end-to-end
# console tests), if they are missing. Uses sudo when not root.
set -eu
missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
[ -z "$missing" ] && exit 0
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root apt-get install -y -qq $missing

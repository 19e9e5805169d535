#!/bin/sh
# Installs the Debian packages the tests drive for real, if they are missing:
# tmux for the end-to-end console tests, OpenSSH's server for the SSH tests,
# redis-server for the inbox's Redis store (and the inbox benchmark's peer).
# Uses sudo when not root.
set -eu
missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
command -v ssh-keygen >/dev/null 2>&1 || missing="$missing openssh-client"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
[ -z "$missing" ] && exit 0
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root apt-get install -y -qq $missing

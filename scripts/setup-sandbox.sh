#!/usr/bin/env bash
# Prepare the sandbox engine of the executability harness. Idempotent: every step is skipped when
# already done, so `make test` runs it every time (≈1 s when all is in place).
#   1. apt packages docker.io, bubblewrap, debootstrap (if a command is missing; needs root)
#   2. dockerd on $DOCKER_SOCK, started in the background with a log file if the socket does not answer
#   3. the base image: a Debian bookworm minbase root file system with python3 and ffmpeg
#      (debootstrap) + `docker import`
#      (no container registry is needed; bookworm's python3 is 3.11, the project's Python, so
#      the project's virtualenv can be mounted into containers for the libraries)
#   4. the sandbox image from gorilla_rlaif/harness/Dockerfile, tagged with the file's hash
# Environment: DOCKER_SOCK (default /var/run/docker.sock), DOCKERD_LOG, DOCKERD_DATA_ROOT,
# GORILLA_SANDBOX_BASE (default gorilla-rlaif-base:bookworm-ffmpeg), DEBIAN_MIRROR.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DOCKER_SOCK="${DOCKER_SOCK:-/var/run/docker.sock}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/gorilla-rlaif-dockerd.log}"
BASE="${GORILLA_SANDBOX_BASE:-gorilla-rlaif-base:bookworm-ffmpeg}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKERFILE_DIR="$ROOT/gorilla_rlaif/harness"
TAG="$(sha256sum "$DOCKERFILE_DIR/Dockerfile" | cut -c1-12)"
IMAGE="gorilla-rlaif-sandbox:$TAG"
export DOCKER_HOST="unix://$DOCKER_SOCK"
say() { echo "setup-sandbox: $*"; }

# 1. packages
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v debootstrap >/dev/null || missing+=(debootstrap)
# transformers' audio pipelines decode files with ffmpeg; the local sandbox sees the host's /usr
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. dockerd
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd on $DOCKER_SOCK (log: $DOCKERD_LOG)"
  args=(-H "unix://$DOCKER_SOCK")
  [[ -n "${DOCKERD_DATA_ROOT:-}" ]] && args+=(--data-root "$DOCKERD_DATA_ROOT")
  # setsid + nohup: the daemon outlives this script and `make`; it is shared by all users of the socket.
  setsid nohup dockerd "${args[@]}" >>"$DOCKERD_LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { say "dockerd did not come up; last log lines:"; tail -20 "$DOCKERD_LOG"; exit 1; }
fi

# 3. base image
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  start=$(date +%s)
  rootfs="$(mktemp -d /tmp/gorilla-rlaif-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  say "debootstrap bookworm minbase + python3 into $rootfs"
  debootstrap --variant=minbase --include=python3,ffmpeg bookworm "$rootfs" "$MIRROR" >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import -m "debootstrap bookworm minbase + python3" - "$BASE" >/dev/null
  say "built $BASE in $(( $(date +%s) - start )) s"
fi

# 4. sandbox image
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  start=$(date +%s)
  # the legacy builder: BuildKit (docker-buildx) is not part of Debian's docker.io
  if ! DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$BASE" -t "$IMAGE" "$DOCKERFILE_DIR" >/tmp/gorilla-rlaif-build.log 2>&1; then
    cat /tmp/gorilla-rlaif-build.log; exit 1
  fi
  say "built $IMAGE in $(( $(date +%s) - start )) s"
fi
say "ready: dockerd on $DOCKER_SOCK, image $IMAGE"

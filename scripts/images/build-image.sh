#!/usr/bin/env bash
# build-image.sh <ref> <release-text> [app-script]
# Builds a tiny image FROM scratch holding static busybox (with its applets linked into /bin),
# /etc/bosun-release containing <release-text> (so every release is a distinct image), and
# optionally <app-script> as /bin/app, its default command. Pushes it when <ref> names a registry.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../stack/env.sh"
ref="$1"; release="$2"; app="${3:-}"
ctx="$(mktemp -d)"; trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp/balena" "$ctx/rootfs/tmp/resin" "$ctx/rootfs/data"
cp /bin/busybox "$ctx/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$ctx/rootfs/bin/$applet"
done
printf '%s\n' "$release" >"$ctx/rootfs/etc/bosun-release"
cmd='["sh", "-c", "trap \"exit 0\" TERM; while true; do sleep 1 & wait; done"]'
if [ -n "$app" ]; then
  install -m 0755 "$app" "$ctx/rootfs/bin/app"
  cmd='["/bin/app"]'
fi
# lock helpers every sample image carries, for tests and for people trying the protocol by hand
install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/lock.sh" "$ctx/rootfs/bin/lock"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
CMD $cmd
DOCKERFILE
"$DOCKER_BIN" build -q -t "$ref" "$ctx" >/dev/null
case "$ref" in
  */*.*|*:[0-9]*/*|127.*|localhost*) "$DOCKER_BIN" push "$ref" >/dev/null ;;
esac
echo "$ref"

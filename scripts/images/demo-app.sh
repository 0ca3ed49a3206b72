#!/bin/sh
# The demo app: logs a line a second naming its release, and counts its boots in /data.
trap 'echo "demo $(cat /etc/bosun-release) stopping"; exit 0' TERM INT
boots=$(( $(cat /data/boots 2>/dev/null || echo 0) + 1 ))
echo "$boots" >/data/boots 2>/dev/null
n=0
while true; do
  n=$((n + 1))
  echo "demo release $(cat /etc/bosun-release) (${BALENA_SERVICE_NAME:-?}) boot $boots tick $n"
  sleep 1 & wait
done

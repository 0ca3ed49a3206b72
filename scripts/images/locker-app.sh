#!/bin/sh
# The locker app: a critical section on command. `docker exec <ctr> lock take` holds the update
# lock, `lock release` lets bosun update. With LOCK_ON_START=1 it takes the lock at boot.
trap 'exit 0' TERM INT
[ "${LOCK_ON_START:-0}" = 1 ] && lock take
while true; do
  echo "locker $(cat /etc/bosun-release): $(lock status)"
  sleep 1 & wait
done

#!/bin/sh
# -- jojo --
# description: A health check that fails, to show a non-zero exit
# tags: demo, health
# output: split
# -- jojo --
echo "checking disk space on /srv/data"
echo "ERROR: /srv/data is 97% full (threshold 90%)" >&2
exit 3

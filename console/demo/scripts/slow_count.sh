#!/bin/sh
# -- jojo --
# description: Count up slowly for about ten seconds, streaming each step
# param: steps - how many steps (default 20)
# tags: demo, streaming
# -- jojo --
steps=${STEPS:-20}
case "$steps" in ''|*[!0-9]*) echo "steps must be a whole number, not '$steps'" >&2; exit 2 ;; esac
i=1
while [ "$i" -le "$steps" ]; do
    echo "step $i of $steps: $(date +%H:%M:%S)"
    [ $((i % 5)) -eq 0 ] && echo "checkpoint at step $i" >&2
    i=$((i + 1))
    sleep 0.5
done
echo "done"

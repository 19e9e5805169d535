# A chatty queue worker: bursts of thousands of lines, then a pause.
echo "worker: connected to queue 'orders'"
batch=0
while true; do
    batch=$((batch + 1))
    seq 1 4000 | awk -v b="$batch" '{ printf "batch %d job %d: processed order #%d in %dms\n", b, $1, b * 4000 + $1, $1 % 17 }'
    echo "worker: batch $batch done (4000 jobs)" >&2
    sleep 3
done

# A process that loses its database connection after a few seconds, every time.
lifetime=$(awk 'BEGIN { srand(); print int(3 + rand() * 6) }')
echo "flaky: starting, connecting to db.internal:5432"
i=0
while [ "$i" -lt "$lifetime" ]; do
    i=$((i + 1))
    echo "flaky: heartbeat $i"
    sleep 1
done
echo "flaky: FATAL: connection to db.internal:5432 lost (server closed the connection)" >&2
exit 1

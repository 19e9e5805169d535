# A steady web server's access log: a request or two a second.
echo "web: listening on 127.0.0.1:8080 (pid $$)"
n=0
while true; do
    n=$((n + 1))
    case $((n % 7)) in
        0) echo "$(date +%H:%M:%S) POST /api/orders 201 $((n % 50 + 12))ms" ;;
        3) echo "$(date +%H:%M:%S) GET /api/cart 200 $((n % 30 + 4))ms" ;;
        5) echo "$(date +%H:%M:%S) GET /missing 404 1ms" >&2 ;;
        *) echo "$(date +%H:%M:%S) GET /health 200 1ms" ;;
    esac
    sleep 0.7
done

#!/bin/sh
# -- jojo --
# description: Store a new API key for a service; the key never appears in logs
# param: service - which service, e.g. billing
# param: api_key - the new key
# filtered_params: api_key
# tags: demo, secrets
# http_method: put
# -- jojo --
: "${SERVICE:?give a service}"
echo "stored a ${#API_KEY}-character key for ${SERVICE} (fingerprint $(printf '%s' "$API_KEY" | cksum | cut -d' ' -f1))"

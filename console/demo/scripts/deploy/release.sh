#!/bin/sh
# -- jojo --
# description: Roll out a release; one at a time, so it holds a lock
# param: version - the version to deploy, e.g. 1.4.2
# param: environment - staging or production
# tags: demo, deploy
# lock: True
# confirm: True
# output: combined
# -- jojo --
: "${VERSION:?give a version}"
echo "deploying ${VERSION} to ${ENVIRONMENT:-staging}"
for host in web1 web2 web3; do
    echo "  ${host}: draining"; sleep 0.4
    echo "  ${host}: switched to ${VERSION}"; sleep 0.3
done
echo "release ${VERSION} live on ${ENVIRONMENT:-staging}"

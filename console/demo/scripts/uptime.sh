#!/bin/sh
# -- jojo --
# description: Show how long this machine has been up, and its load
# tags: demo, health
# http_method: get
# -- jojo --
uptime

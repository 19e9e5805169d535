#!/bin/sh
# -- jojo --
# description: Print a line of text, and how many characters it has
# param: text - the text to print
# tags: demo, basic
# -- jojo --
printf '%s\n' "$TEXT"
printf 'length: %s\n' "${#TEXT}"

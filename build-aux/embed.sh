#!/bin/sh
# embed.sh SYMBOL FILE: FILE as a NUL-terminated C char array named SYMBOL.
set -eu
sym=$1
file=$2
printf '/* generated from %s by embed.sh: do not edit */\n' "$(basename "$file")"
printf 'const char %s[] = {\n' "$sym"
od -An -v -tx1 "$file" | sed -e 's/[0-9a-f][0-9a-f]/0x&,/g'
printf '0x00 };\n'

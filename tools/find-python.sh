#!/usr/bin/env sh
# Print the path of a working Python interpreter of version $1 (e.g. 3.12).
# Tries, in order: pythonX.Y on PATH, pyenv-managed versions (selected through
# PYENV_VERSION or by their direct path), and for the legacy generation also
# plain python3. Exits 1 with a message when none is found.
want="$1"
ok() { "$@" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" >/dev/null 2>&1; }
if ok "python$want"; then command -v "python$want"; exit 0; fi
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root 2>/dev/null)
  for d in $(ls -d "$root"/versions/"$want"* 2>/dev/null | sort -r); do
    if ok "$d/bin/python$want"; then echo "$d/bin/python$want"; exit 0; fi
  done
fi
for d in $(ls -d "$HOME"/.pyenv/versions/"$want"* /usr/local/bin /usr/bin 2>/dev/null); do
  for c in "$d/bin/python$want" "$d/python$want"; do
    if [ -x "$c" ] && ok "$c"; then echo "$c"; exit 0; fi
  done
done
for c in python3 python; do
  if ok "$c"; then command -v "$c"; exit 0; fi
done
echo "no Python $want found: install it (python$want on PATH, or via pyenv)" >&2
exit 1

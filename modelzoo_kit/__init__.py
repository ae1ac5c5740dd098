"""modelzoo-kit: make a model-zoo training deliverable correct, reproducible and honest.

Importing the package must stay cheap (the CLI starts in well under half a second), so nothing
here imports torch, git or the rendering stack; submodules are imported where they are used.
"""

__version__ = "0.1.0"

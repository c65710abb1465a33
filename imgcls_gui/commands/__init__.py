"""Sub-commands of the ``imgcls`` CLI; each module exposes ``register(subparsers)`` setting ``func``."""

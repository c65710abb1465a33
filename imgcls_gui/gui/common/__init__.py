"""GUI pieces more than one panel uses: thumbnails, undoable project changes, a table model over rows.

Panels import from here and from ``gui/state.py``, never from each other's packages.
"""

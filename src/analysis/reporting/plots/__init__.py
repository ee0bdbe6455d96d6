"""Figures. One module per analysis; every plot function takes ``ax=None``, returns the
``Axes`` and never touches global pyplot state. Shared look: :mod:`analysis.reporting.plots.style`."""

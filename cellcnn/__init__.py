"""cellcnn: train and apply a CNN on patch stores written by :mod:`cellconsensus`.

Empty for now: the package is reserved so that the layout of the project is fixed
from the start (see ``DESIGN.md``).
"""

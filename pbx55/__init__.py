"""pbx55: call analytics from 55pbx pushes."""

__version__ = "0.1.0"

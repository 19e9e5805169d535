"""opsconsole: a keyboard-driven terminal console for on-call operators."""

__version__ = "0.1.0"

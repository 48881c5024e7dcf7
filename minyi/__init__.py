"""minyi (民意): appeals, their handling, and public opinion."""

__version__ = "0.1.0"

"""The wheel and sdist, installed in a fresh venv."""

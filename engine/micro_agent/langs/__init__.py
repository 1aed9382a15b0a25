"""What Micro Agent knows about each built-in language, one module per language; `languages.py` registers them."""

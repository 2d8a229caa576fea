"""One router per group of routes; app.py mounts them."""

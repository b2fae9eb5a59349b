"""One router per resource; each route calls one application method."""

"""The edges: REST, GraphQL, CLI. Each calls the application and the read
model through the one composition root in bootstrap.py."""

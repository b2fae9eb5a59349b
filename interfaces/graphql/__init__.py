"""The GraphQL API for dashboards, answered from the read model."""

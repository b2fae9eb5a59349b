"""The API's own pages, Swagger UI at /docs and GraphiQL at /graphql, with
every script and stylesheet they load served by tally itself."""

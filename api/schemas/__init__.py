"""Request and response models: the API's public contract, documented in the OpenAPI schema with examples."""

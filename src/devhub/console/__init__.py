"""The try-it console: call an API operation from its reference page, through the gateway, with one of
your applications' credentials."""

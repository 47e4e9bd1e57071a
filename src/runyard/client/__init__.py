"""The typed workspace client with its two transports (in-process and HTTP)."""

"""Built-in materializers; each module is imported only when its type is met."""

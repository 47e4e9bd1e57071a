"""The step runner and what it needs: input resolution, cache keys, the user-code error boundary."""

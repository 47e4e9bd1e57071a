"""Secret stores: where a secret's values live (flavors of the ``secret_store`` component type)."""

// implemented by a helper

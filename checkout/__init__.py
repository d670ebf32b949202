"""The hosted pages customers see (contract section 2)."""

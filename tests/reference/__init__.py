"""The row-by-row domain code from before the columnar core: the reference the property tests compare with."""

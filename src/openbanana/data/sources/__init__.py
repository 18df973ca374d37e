"""Benchmark data sets read from their official on-disk layouts, one module per data set.

Each module defines a :class:`~.base.DataSource` (indexable records of an image and its targets)
and registers it in :data:`~.base.SOURCES`; :mod:`.fixtures` writes tiny copies of every layout
for the tests. Bad files raise :class:`openbanana.errors.DataLayoutError` naming the file.
"""

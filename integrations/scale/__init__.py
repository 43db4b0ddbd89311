"""A year of data in the admin: the seeder (``history``, written through ``bulk``) and the page measurer (``measure``)."""

"""Identity resolution: normalize identifiers (:mod:`.normalize`, :mod:`.phones`) and unite the
records of one person (:mod:`.resolve`). Import the module you need: resolving loads scipy,
which a profile lookup or a command's start-up should not wait for."""

"""The declarative transform spec (:mod:`runtime.transforms.spec`, its format and public names) and its parts."""

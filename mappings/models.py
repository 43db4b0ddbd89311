# Mapping tables arrive in the GL mapping work (see mappings/ issue); placeholder module so the app loads.

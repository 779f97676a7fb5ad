"""Lab material: one folder per lab (lab.toml, world.te, start.te, cases.py)."""

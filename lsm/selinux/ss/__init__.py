"""The SELinux security server: policydb, decisions (``services``), SIDs, MLS, booleans."""

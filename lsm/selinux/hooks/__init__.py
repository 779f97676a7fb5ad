"""SELinux hook glue, by object family: kernel object -> (ssid, tsid, tclass, perms) -> AVC."""

"""Policy front ends: the checkpolicy-compatible source compiler and the binary policy reader."""

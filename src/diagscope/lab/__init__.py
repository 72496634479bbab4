"""Lab kit: PowerShell scripts that prepare, read out and restore a Windows test machine."""

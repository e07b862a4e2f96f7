"""Settings classes, read from the environment, and deployment files."""

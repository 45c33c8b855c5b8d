"""The deploy engine: synthesize in process, then plan and execute against the linked account."""

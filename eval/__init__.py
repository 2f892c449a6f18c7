"""agentmem.eval."""

"""agentmem.agents."""

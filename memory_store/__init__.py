"""agentmem.memory_store."""

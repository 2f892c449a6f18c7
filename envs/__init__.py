"""agentmem.envs."""

/**
 * What the local API needs from the running agent. The agent (src/agent.ts) implements it; the
 * API module depends on this interface only, so its tests can drive it with a small fake and the
 * real agent alike.
 */
export {};

import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage } from '../util/errors.js';
import { packageRoot } from '../util/package-root.js';
import { newConfig, schema, SECRET_KEYS, type AgentConfig } from './schema.js';

/** config/default.json of the package ('' when the package root cannot be found). */
function defaultConfigFile(): string {
  const root = packageRoot(import.meta.url);
  return root === undefined ? '' : path.join(root, 'config', 'default.json');
}

/**
 * The agent's configuration: schema defaults, then the JSON file named by BOSUN_CONFIG (or
 * config/default.json), then environment variables. Any unknown key or invalid value throws a
 * ConfigError naming the key (and its environment variable) and what is wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let config;
  try {
    config = newConfig(env);
  } catch (err) {
    throw new ConfigError(describeConvictError(errorMessage(err), env));
  }
  const fallback = defaultConfigFile();
  const file = env.BOSUN_CONFIG || (fallback && existsSync(fallback) ? fallback : '');
  if (env.BOSUN_CONFIG && !existsSync(env.BOSUN_CONFIG)) {
    throw new ConfigError(`BOSUN_CONFIG: no such file ${env.BOSUN_CONFIG}`);
  }
  try {
    if (file) config.loadFile(file);
    config.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(describeConvictError(errorMessage(err), env, file));
  }
  return config.getProperties();
}

/**
 * Convict names schema keys; users know the environment variables, so name both, and say where
 * the bad value came from (the environment wins over the file).
 */
function describeConvictError(message: string, env: NodeJS.ProcessEnv, file?: string): string {
  const lines = message.split('\n').map((line) => {
    const match = /^([A-Za-z]+):?\s*(.*)$/.exec(line.trim());
    const key = match?.[1] as keyof typeof schema | undefined;
    if (!key || !(key in schema)) return file ? `${line.trim()} (in ${file})` : line.trim();
    const envName = schema[key].env;
    const source = env[envName] !== undefined ? 'from the environment' : file ? `in ${file}` : 'default';
    return `${envName} (${key}): ${match![2]} (${source})`;
  });
  return `invalid configuration: ${lines.join('; ')}`;
}

/** The effective config with secrets masked, for --print-config and logs. */
export function maskSecrets(config: AgentConfig): Record<string, unknown> {
  const masked: Record<string, unknown> = { ...config };
  for (const key of SECRET_KEYS) masked[key] = config[key] ? '********' : '';
  return masked;
}

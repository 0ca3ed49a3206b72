/**
 * DOCKER_HOST values bosun can use. It reaches the engine over a unix socket or TCP (plain or
 * TLS) only: the bundled agent is built without docker-modem's ssh transport, so `ssh://` is
 * refused here, when the configuration is read, rather than failing at the first engine call.
 */
export type DockerEndpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; protocol: 'http' | 'https' };

export type DockerHostParse = { ok: true; endpoint: DockerEndpoint } | { ok: false; reason: string };

export const DOCKER_HOST_SHAPES = 'unix:///var/run/docker.sock or tcp://host:port';

export function parseDockerHost(value: string): DockerHostParse {
  if (value.startsWith('unix://')) {
    const socketPath = value.slice('unix://'.length);
    if (socketPath === '') return { ok: false, reason: 'names no socket path' };
    return { ok: true, endpoint: { kind: 'unix', socketPath } };
  }
  if (/^ssh:\/\//i.test(value)) {
    return { ok: false, reason: `ssh:// engines are not supported: use ${DOCKER_HOST_SHAPES}` };
  }
  const match = /^(tcp|http|https):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(value);
  if (match === null) return { ok: false, reason: `must look like ${DOCKER_HOST_SHAPES}` };
  const [, scheme, host, port] = match;
  return {
    ok: true,
    endpoint: {
      kind: 'tcp',
      host: host!,
      port: Number(port),
      protocol: scheme === 'https' ? 'https' : 'http',
    },
  };
}

/** Names of volumes and services: they become Docker object names and host directory names. */
export const OBJECT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Where `bosun fleet serve` listens and keeps its database unless told otherwise. */
export const DEFAULT_FLEET_PORT = 48480;
export const DEFAULT_FLEET_ADDRESS = '127.0.0.1';
export const DEFAULT_FLEET_DB = './bosun-fleet.db';

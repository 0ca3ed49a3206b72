/** bosun's version, as in package.json (checked by a unit test). */
export const VERSION = '0.1.0';

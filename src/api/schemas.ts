/**
 * JSON schemas of the request bodies. They check shape and JSON types only and leave unknown
 * fields alone (balena clients send extra ones); the readers in input.ts then apply balena's
 * coercions (force: "1", appId: "12") with messages that name the field.
 */

const flag = { type: ['boolean', 'number', 'string'] } as const;
const id = { type: ['integer', 'string'] } as const;

export const forceBody = {
  type: 'object',
  properties: { force: flag },
} as const;

export const updateBody = {
  type: 'object',
  properties: { force: flag, cancel: flag },
} as const;

export const appActionBody = {
  type: 'object',
  properties: { appId: id, force: flag },
} as const;

export const serviceActionBody = {
  type: 'object',
  properties: {
    serviceName: { type: ['string', 'null'] },
    imageId: { type: ['integer', 'string', 'null'] },
    force: flag,
  },
} as const;

/** A target document: its own validator (the facade's) gives the precise reasons. */
export const targetBody = { type: 'object' } as const;

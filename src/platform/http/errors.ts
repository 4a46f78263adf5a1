/**
 * Errors that reach the user. Every client error names what was wrong: the parameter, field or line.
 *
 * A refusal is always THROWN, never returned: a helper that sends a reply and returns it hands
 * back a thenable (Fastify's reply), which `await` turns into `undefined`, so the caller's
 * `if (refused) return refused` goes on and does the work anyway. Throw `ForbiddenError` (or any
 * `UserError`) and the error handler answers; nothing after the throw runs.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly statusCode = 400,
    readonly field: string | null = null,
    readonly code = 'invalid_request',
  ) {
    super(message);
  }
}

export class NotFoundError extends UserError {
  constructor(message: string) {
    super(message, 404, null, 'not_found');
  }
}

/** The person is known but may not do this (403). */
export class ForbiddenError extends UserError {
  constructor(message = 'Action non autorisée pour votre rôle.', field: string | null = null) {
    super(message, 403, field, 'forbidden');
  }
}

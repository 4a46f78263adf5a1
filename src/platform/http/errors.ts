/**
 * Errors that reach the user. Every client error names what was wrong: the parameter, field or line.
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

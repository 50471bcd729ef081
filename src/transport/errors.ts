/** The host could not be reached or refused us: reported as "unreachable", the other hosts go on. */
export class UnreachableError extends Error {}

/** The server refused every key and password offered: never tried again on its own (each try is a failed login there). */
export class AuthenticationFailed extends UnreachableError {}

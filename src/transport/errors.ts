/** The host could not be reached or refused us: reported as "unreachable", the other hosts go on. */
export class UnreachableError extends Error {}

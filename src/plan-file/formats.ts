// The format names of what mxplay writes, apart from their schemas: writing a run's report or a
// plan needs only the names, and building the schemas (zod) costs a start about 10 ms.

/**
 * The saved plan's own format name. Its number is bumped whenever a reader of the old shape would
 * misread the new one (a field removed, renamed or meaning something else); an optional field
 * added is not a new format: readers ignore fields they do not know.
 */
export const PLAN_FORMAT = 'mxplay-plan/1';

/** run --json's (and apply --json's) own format name: numbered by the same rule as the plan file's. */
export const RUN_FORMAT = 'mxplay-run/1';

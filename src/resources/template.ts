import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type ejs from 'ejs';
import { UserError } from '../errors.ts';
import { compileEjs } from './ejs-cache.ts';
import { file, type FileOptions } from './file.ts';
import type { PendingResource, RoleContext } from './types.ts';

export interface TemplateOptions extends Omit<FileOptions, 'content' | 'kind'> {
  /** File under the role's templates/ folder, rendered with EJS. */
  src: string;
  /** Extra data for the template besides the role's vars (available as plain names). */
  data?: Record<string, unknown>;
}

/**
 * Compiled templates by file and text: a role that renders one template for hundreds of tenants
 * compiles it once (compiling was most of the time of building 3000 resources).
 */
const compiled = new Map<string, ejs.TemplateFunction>();

function compile(path: string, text: string): ejs.TemplateFunction {
  const key = `${path}\0${text}`;
  let fn = compiled.get(key);
  if (!fn) {
    fn = compileEjs(path, text);
    compiled.set(key, fn);
  }
  return fn;
}

export function renderTemplate(path: string, data: Record<string, unknown>, ctx: RoleContext): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UserError(`template not found: ${path}`, { role: ctx.roleName, host: ctx.hostName });
  }
  try {
    return compile(path, text)(data);
  } catch (e) {
    throw new UserError(`template failed: ${(e as Error).message}`, { file: path, role: ctx.roleName, host: ctx.hostName });
  }
}

/** A file whose content comes from an EJS template of the role, rendered with the role's vars. */
export function template(o: TemplateOptions): PendingResource {
  return {
    prepare(ctx) {
      const { src, data, ...rest } = o;
      const path = join(ctx.roleDir, 'templates', src);
      const content = renderTemplate(path, { ...ctx.vars, host: ctx.hostName, ...data }, ctx);
      return file({ ...rest, content, kind: 'template' });
    },
  };
}

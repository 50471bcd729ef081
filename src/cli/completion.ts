import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { program } from './program.ts';

/**
 * Shell completion: the scripts ask `mxplay __complete WORDS...` for the candidates of the last
 * word, so commands, options, role names and inventory hosts come from mxplay itself, never from
 * a list in the script that could fall behind.
 */
export function completionScript(shell: 'bash' | 'zsh'): string {
  if (shell === 'bash') {
    return `# mxplay completion for bash: source <(mxplay completion bash)
_mxplay() {
  local IFS=$'\\n'
  COMPREPLY=($(mxplay __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
  # Nothing of mxplay's own to offer (a playbook, a plan, a key file): the shell's file names.
  [ \${#COMPREPLY[@]} -eq 0 ] && compopt -o default
}
complete -F _mxplay mxplay
`;
  }
  return `#compdef mxplay
# mxplay completion for zsh: source <(mxplay completion zsh)
_mxplay() {
  local -a c
  c=(\${(f)"$(mxplay __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)"})
  if (( \${#c} )); then compadd -a c; else _files; fi
}
compdef _mxplay mxplay
`;
}

const optionNames = (c: Command) => c.options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short].filter((n): n is string => !!n));

/** Inventories by the names -i takes: inventory/NAME.yml, inventory/NAME/ (and the paths as typed). */
function inventoryNames(cwd: string): string[] {
  const dir = join(cwd, 'inventory');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? e.name : e.name.replace(/\.(ya?ml|ini|cfg)$/, '')));
}

/** Hosts and groups of the inventories named with -i on the line so far (none readable: none offered). */
async function hostsAndGroups(words: string[]): Promise<string[]> {
  const sources = words.flatMap((w, i) => ((w === '-i' || w === '--inventory') && words[i + 1] ? [words[i + 1]!] : []));
  if (!sources.length) return [];
  try {
    const { loadInventory } = await import('../inventory/inventory.ts');
    const inv = loadInventory(sources);
    return [...inv.hosts.keys(), ...inv.groups.keys()];
  } catch {
    return [];
  }
}

async function roleNames(): Promise<string[]> {
  const { availableRoles, roleSearchPath } = await import('../roles/loader.ts');
  return availableRoles(roleSearchPath());
}

function playbooks(cwd: string): string[] {
  const yml = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : []);
  return [...yml(cwd), ...yml(join(cwd, 'playbooks'))];
}

/** Candidates for the last of `words` (the words after `mxplay`, the one being completed last). */
export async function completions(words: string[], cwd = process.cwd()): Promise<string[]> {
  const cur = words.at(-1) ?? '';
  const p = program(async () => {});
  const match = (cands: string[]) => [...new Set(cands)].filter((c) => c.startsWith(cur)).sort();
  if (words.length <= 1) return match([...p.commands.map((c) => c.name()).filter((n) => !n.startsWith('__')), 'help']);
  const cmd = p.commands.find((c) => c.name() === words[0]);
  if (!cmd) return [];
  const prev = words.at(-2)!;
  const valued = cmd.options.find((o) => (o.long === prev || o.short === prev) && (o.required || o.optional));
  if (valued) {
    if (valued.argChoices) return match(valued.argChoices);
    switch (valued.long) {
      case '--limit':
      case '--host':
        return match(await hostsAndGroups(words));
      case '--inventory':
        return match(inventoryNames(cwd));
      case '--tags':
      case '--skip-tags':
        return match(await roleNames());
      default:
        return []; // a file or a free value: the shell offers file names
    }
  }
  if (cur.startsWith('-')) return match(optionNames(cmd));
  switch (cmd.name()) {
    case 'run':
    case 'plan':
      return match(playbooks(cwd));
    case 'roles':
      return match(await roleNames());
    case 'completion':
      return match(['bash', 'zsh']);
    default:
      return [];
  }
}

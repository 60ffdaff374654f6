import type { Command } from 'commander';

// Shell completion generated from the command tree itself, so it never falls behind: the bash script asks
// `berth admin __complete <words…>` for the candidates at the cursor.

const BASH = `# berth completion (bash; zsh: autoload -U bashcompinit && bashcompinit first)
_berth_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  COMPREPLY=( $(compgen -W "$(berth admin __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)" -- "$cur") )
}
complete -o default -F _berth_complete berth
`;

/** The subcommand names and long options valid after `words` (the words typed after `berth`). */
export function candidates(root: Command, words: string[]): string[] {
  let cmd = root;
  for (const w of words) {
    if (w.startsWith('-')) continue;
    const next = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (!next) break;
    cmd = next;
  }
  const options: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) for (const o of c.options) if (o.long) options.push(o.long);
  const subs = cmd.commands.filter((c) => !c.name().startsWith('__')).map((c) => c.name());
  return [...subs, ...options, '--help'];
}

export function completionCommands(admin: Command): void {
  admin
    .command('completion [shell]')
    .description('print a shell completion script: eval "$(berth admin completion bash)"')
    .action((shell: string | undefined) => {
      if (shell && shell !== 'bash' && shell !== 'zsh') {
        process.stderr.write(`berth admin: completion for ${shell} is not available (bash, zsh through bashcompinit)\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(BASH);
    });

  admin
    .command('__complete [words...]', { hidden: true })
    .action((words: string[] | undefined) => {
      let root: Command = admin;
      while (root.parent) root = root.parent;
      process.stdout.write(candidates(root, words ?? []).join('\n') + '\n');
    });
}

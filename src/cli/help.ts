/** The "Examples:" section appended to a command's --help: `.addHelpText('after', examples([...]))`. */
export function examples(lines: string[], notes?: string): string {
  const text = ['', 'Examples:', ...lines.map((line) => `  $ ${line}`)];
  if (notes) text.push('', notes);
  return text.join('\n');
}

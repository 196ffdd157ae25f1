/**
 * Just enough of PostgreSQL's lexical rules to rewrite the definitions the catalog prints (index
 * definitions, constraints, defaults, a row filter): string literals and quoted identifiers are kept
 * whole, so a renamed column is renamed only where it stands as an identifier.
 */
export type Token =
  | { kind: 'word'; text: string; name: string }
  | { kind: 'quoted'; text: string; name: string }
  | { kind: 'string'; text: string }
  | { kind: 'other'; text: string };

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'") {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      tokens.push({ kind: 'string', text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') break;
        else j++;
      }
      const text = sql.slice(i, j + 1);
      tokens.push({ kind: 'quoted', text, name: text.slice(1, -1).replace(/""/g, '"') });
      i = j + 1;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[j])) j++;
      const text = sql.slice(i, j);
      tokens.push({ kind: 'word', text, name: text.toLowerCase() });
      i = j;
    } else {
      tokens.push({ kind: 'other', text: c });
      i++;
    }
  }
  return tokens;
}

export const untokenize = (tokens: Token[]) => tokens.map((token) => token.text).join('');

const isName = (token: Token | undefined): token is Extract<Token, { name: string }> =>
  token !== undefined && (token.kind === 'word' || token.kind === 'quoted');

/** The previous/next token that is not white space. */
function neighbour(tokens: Token[], index: number, step: 1 | -1): Token | undefined {
  for (let j = index + step; j >= 0 && j < tokens.length; j += step) {
    if (tokens[j].kind === 'other' && /\s/.test(tokens[j].text)) continue;
    return tokens[j];
  }
  return undefined;
}

/**
 * The column names an expression refers to: identifiers that are neither qualified (after a dot),
 * nor a function name (before a parenthesis), nor a type name (after ::), among `columns`.
 */
export function referencedColumns(sql: string, columns: readonly string[]): string[] {
  const known = new Set(columns);
  const found = new Set<string>();
  const tokens = tokenize(sql);
  tokens.forEach((token, index) => {
    if (!isName(token) || !known.has(token.name)) return;
    if (isColumnPosition(tokens, index)) found.add(token.name);
  });
  return [...found];
}

function isColumnPosition(tokens: Token[], index: number): boolean {
  const before = neighbour(tokens, index, -1);
  const after = neighbour(tokens, index, 1);
  if (before?.text === '.' || after?.text === '(' || after?.text === '.') return false;
  if (before?.text === ':' && tokens[index - 2]?.text === ':') return false;
  return true;
}

/** Renames column identifiers (see referencedColumns for what counts as one), quoting the new names. */
export function renameColumns(sql: string, renames: ReadonlyMap<string, string>, quote: (name: string) => string): string {
  const tokens = tokenize(sql);
  return tokens
    .map((token, index) => {
      if (!isName(token) || !renames.has(token.name) || !isColumnPosition(tokens, index)) return token.text;
      return quote(renames.get(token.name)!);
    })
    .join('');
}

/** Whether the text holds a `;` outside literals and quoted names (a row filter must be one expression). */
export function hasStatementSeparator(sql: string): boolean {
  return tokenize(sql).some((token) => token.kind === 'other' && token.text === ';');
}

/** Parses "(a, "B c", d)" at the start of `text` into names; returns the names and the rest. */
export function parseNameList(text: string): { names: string[]; rest: string } | null {
  const tokens = tokenize(text);
  let index = 0;
  const skip = () => {
    while (index < tokens.length && tokens[index].kind === 'other' && /\s/.test(tokens[index].text)) index++;
  };
  skip();
  if (tokens[index]?.text !== '(') return null;
  index++;
  const names: string[] = [];
  for (;;) {
    skip();
    const token = tokens[index];
    if (!isName(token)) return null;
    names.push(token.name);
    index++;
    skip();
    if (tokens[index]?.text === ',') {
      index++;
      continue;
    }
    if (tokens[index]?.text === ')') {
      index++;
      break;
    }
    return null;
  }
  return { names, rest: untokenize(tokens.slice(index)) };
}

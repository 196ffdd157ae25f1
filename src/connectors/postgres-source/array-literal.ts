/**
 * Parses PostgreSQL's text form of an array ("{1,2,NULL}", '{"a b","c\\"d"}', "{{1,2},{3,4}}",
 * "[0:1]={7,8}") into nested arrays of element texts; an unquoted NULL becomes null.
 */
export type ArrayLiteral = Array<string | null | ArrayLiteral>;

export function parseArrayLiteral(text: string, delimiter = ','): ArrayLiteral {
  let position = 0;
  if (text[0] === '[') {
    position = text.indexOf('=') + 1;
    if (position === 0) throw new Error(`malformed array literal: ${text.slice(0, 40)}`);
  }

  const parseLevel = (): ArrayLiteral => {
    if (text[position] !== '{') throw new Error(`malformed array literal at ${position}: ${text.slice(0, 40)}`);
    position += 1;
    const items: ArrayLiteral = [];
    if (text[position] === '}') {
      position += 1;
      return items;
    }
    for (;;) {
      const char = text[position];
      if (char === '{') items.push(parseLevel());
      else if (char === '"') items.push(parseQuoted());
      else items.push(parseBare());
      const next = text[position];
      position += 1;
      if (next === '}') return items;
      if (next !== delimiter) throw new Error(`malformed array literal at ${position - 1}: ${text.slice(0, 40)}`);
    }
  };

  const parseQuoted = (): string => {
    position += 1;
    let value = '';
    while (position < text.length) {
      const char = text[position];
      if (char === '\\') {
        value += text[position + 1];
        position += 2;
      } else if (char === '"') {
        position += 1;
        return value;
      } else {
        value += char;
        position += 1;
      }
    }
    throw new Error(`unterminated quoted element in array literal: ${text.slice(0, 40)}`);
  };

  const parseBare = (): string | null => {
    const start = position;
    while (position < text.length && text[position] !== delimiter && text[position] !== '}') position += 1;
    const raw = text.slice(start, position).trim();
    return raw.toUpperCase() === 'NULL' ? null : raw;
  };

  const result = parseLevel();
  if (position !== text.length) throw new Error(`trailing characters after array literal: ${text.slice(0, 40)}`);
  return result;
}
